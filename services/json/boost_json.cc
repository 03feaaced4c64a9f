// The one translation unit that compiles Boost.JSON (header-only mode, Debian 12 ships no
// separate library we rely on). Everything else includes <boost/json.hpp> and links gaze::json.
#include <boost/json/src.hpp>
