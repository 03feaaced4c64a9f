// GET /v2/schemas/{image,images,member,members,task,tasks}: the JSON schemas glanceclient builds
// its models from and validates images, members and tasks against (contract §11). Built once,
// served as is.
#pragma once

#include <string>

namespace gaze::gateway {

const std::string& ImageSchemaJson();
const std::string& ImagesSchemaJson();
const std::string& MemberSchemaJson();
const std::string& MembersSchemaJson();
const std::string& TaskSchemaJson();
const std::string& TasksSchemaJson();

}  // namespace gaze::gateway
