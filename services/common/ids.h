// Identifiers: random (version 4) UUIDs from the kernel's CSPRNG, and request ids.
#pragma once

#include <string>
#include <string_view>

namespace gaze {

// A new lower-case hyphenated UUID v4, e.g. "6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11".
std::string NewUuid();

// True for the canonical 8-4-4-4-12 hex form (either case). Glance accepts any such string
// as an image id on create; the version nibble is not checked.
bool IsUuid(std::string_view s);

// "req-<uuid>", the format of Glance's x-openstack-request-id.
std::string NewRequestId();

}  // namespace gaze
