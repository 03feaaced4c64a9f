// GET /v2/schemas/{image,images,member,members}: the JSON schemas glanceclient builds its
// models from and validates images and members against (contract §11). Built once, served
// as is.
#pragma once

#include <string>

namespace gaze::gateway {

const std::string& ImageSchemaJson();
const std::string& ImagesSchemaJson();
const std::string& MemberSchemaJson();
const std::string& MembersSchemaJson();

}  // namespace gaze::gateway
