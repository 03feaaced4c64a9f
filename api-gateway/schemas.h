// GET /v2/schemas/image and /v2/schemas/images: the JSON schemas glanceclient builds its
// models from and validates images against (contract §11). Built once, served as is.
#pragma once

#include <string>

namespace gaze::gateway {

const std::string& ImageSchemaJson();
const std::string& ImagesSchemaJson();

}  // namespace gaze::gateway
