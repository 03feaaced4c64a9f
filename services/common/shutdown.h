// Process-wide termination signal handling for the service binaries.
#pragma once

namespace gaze {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and ignores SIGPIPE. Call first in
// main(), before any thread starts, so that every thread inherits the mask and
// WaitForTerminationSignal() is the only place that receives them.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives and returns the signal number.
int WaitForTerminationSignal();

}  // namespace gaze
