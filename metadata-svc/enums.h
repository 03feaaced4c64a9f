// The text stored in PostgreSQL for each API enum, and back. Stored values are Glance's
// lower-case names ("queued", "public", "api_image_import", ...).
#pragma once

#include <string_view>

#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

// nullptr for UNSPECIFIED / unknown values.
const char* ImageStatusName(v1::ImageStatus status);
v1::ImageStatus ParseImageStatus(std::string_view text);

const char* VisibilityName(v1::Visibility visibility);
v1::Visibility ParseVisibility(std::string_view text);

const char* MemberStatusName(v1::MemberStatus status);
v1::MemberStatus ParseMemberStatus(std::string_view text);

const char* TaskTypeName(v1::TaskType type);
v1::TaskType ParseTaskType(std::string_view text);

const char* TaskStatusName(v1::TaskStatus status);
v1::TaskStatus ParseTaskStatus(std::string_view text);

// Glance's import method names ("glance-direct", "web-download", ...).
const char* ImportMethodName(v1::ImportMethod method);
v1::ImportMethod ParseImportMethod(std::string_view text);

}  // namespace gaze::metadata
