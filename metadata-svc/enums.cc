// Enum <-> stored text tables.
#include "metadata-svc/enums.h"

#include <utility>

namespace gaze::metadata {
namespace {

template <typename E, size_t N>
const char* NameOf(const std::pair<E, const char*> (&table)[N], E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return nullptr;
}

template <typename E, size_t N>
E ValueOf(const std::pair<E, const char*> (&table)[N], std::string_view text, E fallback) {
  for (const auto& [e, name] : table) {
    if (text == name) return e;
  }
  return fallback;
}

constexpr std::pair<v1::ImageStatus, const char*> kImageStatuses[] = {
    {v1::IMAGE_STATUS_QUEUED, "queued"},       {v1::IMAGE_STATUS_SAVING, "saving"},
    {v1::IMAGE_STATUS_UPLOADING, "uploading"}, {v1::IMAGE_STATUS_IMPORTING, "importing"},
    {v1::IMAGE_STATUS_ACTIVE, "active"},       {v1::IMAGE_STATUS_DEACTIVATED, "deactivated"},
    {v1::IMAGE_STATUS_KILLED, "killed"},       {v1::IMAGE_STATUS_PENDING_DELETE, "pending_delete"},
    {v1::IMAGE_STATUS_DELETED, "deleted"},
};

constexpr std::pair<v1::Visibility, const char*> kVisibilities[] = {
    {v1::VISIBILITY_PUBLIC, "public"},
    {v1::VISIBILITY_COMMUNITY, "community"},
    {v1::VISIBILITY_SHARED, "shared"},
    {v1::VISIBILITY_PRIVATE, "private"},
};

constexpr std::pair<v1::MemberStatus, const char*> kMemberStatuses[] = {
    {v1::MEMBER_STATUS_PENDING, "pending"},
    {v1::MEMBER_STATUS_ACCEPTED, "accepted"},
    {v1::MEMBER_STATUS_REJECTED, "rejected"},
};

constexpr std::pair<v1::TaskType, const char*> kTaskTypes[] = {
    {v1::TASK_TYPE_DELETE_DATA, "delete_data"},
    {v1::TASK_TYPE_IMPORT, "api_image_import"},
};

constexpr std::pair<v1::TaskStatus, const char*> kTaskStatuses[] = {
    {v1::TASK_STATUS_PENDING, "pending"},
    {v1::TASK_STATUS_PROCESSING, "processing"},
    {v1::TASK_STATUS_SUCCESS, "success"},
    {v1::TASK_STATUS_FAILURE, "failure"},
};

constexpr std::pair<v1::ImportMethod, const char*> kImportMethods[] = {
    {v1::IMPORT_METHOD_GLANCE_DIRECT, "glance-direct"},
    {v1::IMPORT_METHOD_WEB_DOWNLOAD, "web-download"},
    {v1::IMPORT_METHOD_COPY_IMAGE, "copy-image"},
    {v1::IMPORT_METHOD_GLANCE_DOWNLOAD, "glance-download"},
};

}  // namespace

const char* ImageStatusName(v1::ImageStatus s) { return NameOf(kImageStatuses, s); }
v1::ImageStatus ParseImageStatus(std::string_view t) {
  return ValueOf(kImageStatuses, t, v1::IMAGE_STATUS_UNSPECIFIED);
}

const char* VisibilityName(v1::Visibility v) { return NameOf(kVisibilities, v); }
v1::Visibility ParseVisibility(std::string_view t) {
  return ValueOf(kVisibilities, t, v1::VISIBILITY_UNSPECIFIED);
}

const char* MemberStatusName(v1::MemberStatus s) { return NameOf(kMemberStatuses, s); }
v1::MemberStatus ParseMemberStatus(std::string_view t) {
  return ValueOf(kMemberStatuses, t, v1::MEMBER_STATUS_UNSPECIFIED);
}

const char* TaskTypeName(v1::TaskType t) { return NameOf(kTaskTypes, t); }
v1::TaskType ParseTaskType(std::string_view t) {
  return ValueOf(kTaskTypes, t, v1::TASK_TYPE_UNSPECIFIED);
}

const char* TaskStatusName(v1::TaskStatus s) { return NameOf(kTaskStatuses, s); }
v1::TaskStatus ParseTaskStatus(std::string_view t) {
  return ValueOf(kTaskStatuses, t, v1::TASK_STATUS_UNSPECIFIED);
}

const char* ImportMethodName(v1::ImportMethod m) { return NameOf(kImportMethods, m); }
v1::ImportMethod ParseImportMethod(std::string_view t) {
  return ValueOf(kImportMethods, t, v1::IMPORT_METHOD_UNSPECIFIED);
}

}  // namespace gaze::metadata
