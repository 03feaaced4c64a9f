#include "api-gateway/schemas.h"

#include <boost/json.hpp>

#include "api-gateway/image_json.h"

namespace gaze::gateway {
namespace {

namespace json = boost::json;

constexpr const char* kUuidPattern =
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";

// Glance's base image properties (glance/api/v2/images.py get_base_properties) followed by
// the custom properties of its shipped etc/schema-image.json, marked "is_base": false.
// `stores` is left out: images only carry it with multiple stores (contract §3.1), and the
// glance CLI turns every schema property into an option, so `--stores` would collide with
// the one its image-create-via-import command defines.
constexpr const char* kImageSchemaTemplate = R"json({
  "name": "image",
  "properties": {
    "id": {"type": "string", "description": "An identifier for the image", "pattern": "UUID"},
    "name": {"type": ["null", "string"], "description": "Descriptive name for the image", "maxLength": 255},
    "status": {"type": "string", "readOnly": true, "description": "Status of the image",
               "enum": ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"]},
    "visibility": {"type": "string", "description": "Scope of image accessibility", "enum": ["community", "public", "private", "shared"]},
    "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
    "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
    "checksum": {"type": ["null", "string"], "readOnly": true, "description": "md5 hash of image contents.", "maxLength": 32},
    "os_hash_algo": {"type": ["null", "string"], "readOnly": true, "description": "Algorithm to calculate the os_hash_value", "maxLength": 64},
    "os_hash_value": {"type": ["null", "string"], "readOnly": true, "description": "Hexdigest of the image contents using the algorithm specified by the os_hash_algo", "maxLength": 128},
    "owner": {"type": ["null", "string"], "description": "Owner of the image", "maxLength": 255},
    "size": {"type": ["null", "integer"], "readOnly": true, "description": "Size of image file in bytes"},
    "virtual_size": {"type": ["null", "integer"], "readOnly": true, "description": "Virtual size of image in bytes"},
    "container_format": {"type": ["null", "string"], "description": "Format of the container", "enum": []},
    "disk_format": {"type": ["null", "string"], "description": "Format of the disk", "enum": []},
    "created_at": {"type": "string", "readOnly": true, "description": "Date and time of image registration"},
    "updated_at": {"type": "string", "readOnly": true, "description": "Date and time of the last image modification"},
    "tags": {"type": "array", "description": "List of strings related to the image", "items": {"type": "string", "maxLength": 255}},
    "direct_url": {"type": "string", "readOnly": true, "description": "URL to access the image file kept in external store"},
    "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
    "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
    "self": {"type": "string", "readOnly": true, "description": "An image self url"},
    "file": {"type": "string", "readOnly": true, "description": "An image file url"},
    "schema": {"type": "string", "readOnly": true, "description": "An image schema url"},
    "locations": {"type": "array", "description": "A set of URLs to access the image file kept in external store",
      "items": {"type": "object", "required": ["url", "metadata"], "properties": {
        "url": {"type": "string", "maxLength": 255},
        "metadata": {"type": "object"},
        "validation_data": {"description": "Values to be used to populate the corresponding image properties. If the image status is not 'queued', values must exactly match those already contained in the image properties.",
          "type": "object", "writeOnly": true, "additionalProperties": false, "required": ["os_hash_algo", "os_hash_value"],
          "properties": {"checksum": {"type": "string", "minLength": 32, "maxLength": 32},
                         "os_hash_algo": {"type": "string", "maxLength": 64},
                         "os_hash_value": {"type": "string", "maxLength": 128}}}}}},
    "kernel_id": {"type": ["null", "string"], "pattern": "UUID", "is_base": false,
                  "description": "ID of image stored in Glance that should be used as the kernel when booting an AMI-style image."},
    "ramdisk_id": {"type": ["null", "string"], "pattern": "UUID", "is_base": false,
                   "description": "ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image."},
    "instance_uuid": {"type": "string", "is_base": false, "description": "Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)"},
    "architecture": {"type": "string", "is_base": false, "description": "Operating system architecture as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"},
    "os_distro": {"type": "string", "is_base": false, "description": "Common name of operating system distribution as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"},
    "os_version": {"type": "string", "is_base": false, "description": "Operating system version as specified by the distributor."},
    "description": {"type": "string", "is_base": false, "description": "A human-readable string describing this image."}
  },
  "additionalProperties": {"type": "string"},
  "links": [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"}, {"rel": "describedby", "href": "{schema}"}]
})json";

// Glance's image member schema (glance/api/v2/image_members.py), which Glance serves in its
// "minimal" form: name and properties only.
constexpr const char* kMemberSchemaTemplate = R"json({
  "name": "member",
  "properties": {
    "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
    "image_id": {"type": "string", "description": "An identifier for the image", "pattern": "UUID"},
    "created_at": {"type": "string", "description": "Date and time of image member creation"},
    "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
    "status": {"type": "string", "description": "The status of this image member", "enum": ["pending", "accepted", "rejected"]},
    "schema": {"readOnly": true, "type": "string"}
  }
})json";

// Glance's task schema (glance/api/v2/tasks.py _TASK_SCHEMA), served in its "minimal" form, plus
// Gaze's "progress" (task_json.h): declared, so that models validated against the schema keep it.
constexpr const char* kTaskSchemaTemplate = R"json({
  "name": "task",
  "properties": {
    "id": {"description": "An identifier for the task", "pattern": "UUID", "type": "string"},
    "type": {"description": "The type of task represented by this content", "enum": ["import", "api_image_import"], "type": "string"},
    "status": {"description": "The current status of this task", "enum": ["pending", "processing", "success", "failure"], "type": "string"},
    "input": {"description": "The parameters required by task, JSON blob", "type": ["null", "object"]},
    "result": {"description": "The result of current task, JSON blob", "type": ["null", "object"]},
    "owner": {"description": "An identifier for the owner of this task", "type": "string"},
    "message": {"description": "Human-readable informative message only included when appropriate (usually on failure)", "type": "string"},
    "image_id": {"description": "Image associated with the task", "type": "string"},
    "request_id": {"description": "Human-readable informative request-id", "type": "string"},
    "user_id": {"description": "User associated with the task", "type": "string"},
    "expires_at": {"description": "Datetime when this resource would be subject to removal", "type": ["null", "string"]},
    "created_at": {"description": "Datetime when this resource was created", "type": "string"},
    "updated_at": {"description": "Datetime when this resource was updated", "type": "string"},
    "self": {"readOnly": true, "type": "string"},
    "schema": {"readOnly": true, "type": "string"},
    "progress": {"description": "Gaze only: the step the task is in and how far it has got, null until the task starts",
                 "readOnly": true, "type": ["null", "object"],
                 "properties": {"stage": {"type": "string"},
                                "bytes_done": {"type": "integer"},
                                "bytes_total": {"type": ["null", "integer"]}}}
  }
})json";

json::object BuildTaskSchema() {
  json::object schema = json::parse(kTaskSchemaTemplate).as_object();
  schema["properties"].as_object()["id"].as_object()["pattern"] = kUuidPattern;
  return schema;
}

json::object BuildMemberSchema() {
  json::object schema = json::parse(kMemberSchemaTemplate).as_object();
  schema["properties"].as_object()["image_id"].as_object()["pattern"] = kUuidPattern;
  return schema;
}

// Glance's CollectionSchema in its minimal form, without first/next links.
json::object MinimalCollectionSchema(json::string_view name, json::object item) {
  return json::object{
      {"name", name},
      {"properties",
       json::object{{name, json::object{{"type", "array"}, {"items", std::move(item)}}},
                    {"schema", json::object{{"type", "string"}}}}},
      {"links", json::array{json::object{{"rel", "describedby"}, {"href", "{schema}"}}}},
  };
}

json::object BuildImageSchema() {
  json::object schema = json::parse(kImageSchemaTemplate).as_object();
  json::object& props = schema["properties"].as_object();
  for (const char* key : {"id", "kernel_id", "ramdisk_id"}) {
    props[key].as_object()["pattern"] = kUuidPattern;
  }
  // nova picks its default disk format from this enum, so null comes first, then the
  // formats in configuration order.
  auto fill = [&](const char* key, std::span<const std::string_view> formats) {
    json::array values{nullptr};
    for (std::string_view f : formats) values.emplace_back(json::string_view(f.data(), f.size()));
    props[key].as_object()["enum"] = std::move(values);
  };
  fill("disk_format", DiskFormats());
  fill("container_format", ContainerFormats());
  return schema;
}

}  // namespace

const std::string& ImageSchemaJson() {
  static const std::string* schema = new std::string(json::serialize(BuildImageSchema()));
  return *schema;
}

const std::string& ImagesSchemaJson() {
  static const std::string* schema = [] {
    json::object images;
    images["name"] = "images";
    images["properties"] = json::object{
        {"images", json::object{{"type", "array"}, {"items", BuildImageSchema()}}},
        {"first", json::object{{"type", "string"}}},
        {"next", json::object{{"type", "string"}}},
        {"schema", json::object{{"type", "string"}}},
    };
    images["links"] = json::array{
        json::object{{"rel", "first"}, {"href", "{first}"}},
        json::object{{"rel", "next"}, {"href", "{next}"}},
        json::object{{"rel", "describedby"}, {"href", "{schema}"}},
    };
    return new std::string(json::serialize(images));
  }();
  return *schema;
}

const std::string& MemberSchemaJson() {
  static const std::string* schema = new std::string(json::serialize(BuildMemberSchema()));
  return *schema;
}

const std::string& TaskSchemaJson() {
  static const std::string* schema = new std::string(json::serialize(BuildTaskSchema()));
  return *schema;
}

const std::string& TasksSchemaJson() {
  static const std::string* schema = [] {
    // Glance's "partial" task schema: list items carry no input, result or message.
    json::object item = BuildTaskSchema();
    json::object& props = item["properties"].as_object();
    for (const char* hidden : {"input", "result", "message"}) props.erase(hidden);
    return new std::string(json::serialize(MinimalCollectionSchema("tasks", std::move(item))));
  }();
  return *schema;
}

const std::string& MembersSchemaJson() {
  static const std::string* schema =
      new std::string(json::serialize(MinimalCollectionSchema("members", BuildMemberSchema())));
  return *schema;
}

}  // namespace gaze::gateway
