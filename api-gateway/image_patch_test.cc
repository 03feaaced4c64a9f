#include "api-gateway/image_patch.h"

#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

// PlanPatch for patches with at least one operation.
absl::StatusOr<v1::UpdateImageRequest> Plan(PatchDialect dialect, std::string_view body,
                                            const v1::Image& current,
                                            const auth::Identity& caller) {
  auto planned = PlanPatch(dialect, body, current, caller);
  if (!planned.ok()) return planned.status();
  if (!planned->has_value()) return absl::InternalError("no operations");
  return **std::move(planned);
}

auth::Identity Member() {
  auth::Identity id;
  id.project_id = "p1";
  id.roles = {"member"};
  return id;
}

v1::Image Current() {
  v1::Image image;
  image.set_id("img");
  image.set_version(7);
  image.set_status(v1::IMAGE_STATUS_QUEUED);
  image.set_name("old");
  image.set_owner("p1");
  image.set_visibility(v1::VISIBILITY_SHARED);
  (*image.mutable_properties())["os_distro"] = "debian";
  image.add_tags("a");
  return image;
}

bool HasPath(const v1::UpdateImageRequest& u, const std::string& path) {
  for (const auto& p : u.update_mask().paths()) {
    if (p == path) return true;
  }
  return false;
}

TEST(ImagePatchTest, DialectFromContentType) {
  EXPECT_EQ(PatchDialectFor("application/openstack-images-v2.1-json-patch"), PatchDialect::kV21);
  EXPECT_EQ(PatchDialectFor("application/openstack-images-v2.0-json-patch; charset=UTF-8"),
            PatchDialect::kV20);
  EXPECT_FALSE(PatchDialectFor("application/json").has_value());
  EXPECT_FALSE(PatchDialectFor("application/json-patch+json").has_value());
}

TEST(ImagePatchTest, V21ReplaceNameAddProperty) {
  auto u = Plan(PatchDialect::kV21,
                R"([{"op":"replace","path":"/name","value":"new"},
                         {"op":"add","path":"/hw_disk_bus","value":"virtio"},
                         {"op":"replace","path":"/os_distro","value":"ubuntu"},
                         {"op":"replace","path":"/tags","value":["a"]}])",
                Current(), Member());
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->id(), "img");
  EXPECT_EQ(u->expected_version(), 7);
  EXPECT_TRUE(HasPath(*u, "name"));
  EXPECT_FALSE(HasPath(*u, "tags")) << "unchanged tags are not rewritten";
  EXPECT_EQ(u->image().name(), "new");
  EXPECT_EQ(u->set_properties().at("hw_disk_bus"), "virtio");
  EXPECT_EQ(u->set_properties().at("os_distro"), "ubuntu");
  EXPECT_EQ(u->remove_properties_size(), 0);
}

TEST(ImagePatchTest, V20DialectAndRemove) {
  auto u =
      Plan(PatchDialect::kV20, R"([{"replace":"/protected","value":true},{"remove":"/os_distro"}])",
           Current(), Member());
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(HasPath(*u, "protected"));
  EXPECT_TRUE(u->image().protected_());
  ASSERT_EQ(u->remove_properties_size(), 1);
  EXPECT_EQ(u->remove_properties(0), "os_distro");
}

TEST(ImagePatchTest, NameToNull) {
  auto u = Plan(PatchDialect::kV21, R"([{"op":"replace","path":"/name","value":null}])", Current(),
                Member());
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(HasPath(*u, "name"));
  EXPECT_FALSE(u->image().has_name());
}

TEST(ImagePatchTest, Rejections) {
  struct Case {
    PatchDialect dialect;
    const char* body;
    absl::StatusCode code;
  };
  const auto v21 = PatchDialect::kV21;
  for (Case c : {
           Case{v21, "{}", absl::StatusCode::kInvalidArgument},
           {v21, "not json", absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"move","path":"/name","value":"x"}])",
            absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"test","path":"/name","value":"x"}])",
            absl::StatusCode::kInvalidArgument},
           {v21, R"([{"path":"/name","value":"x"}])", absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"replace","value":"x"}])", absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"replace","path":"/name"}])", absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"replace","path":"name","value":"x"}])",
            absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"replace","path":"/tags/0","value":"x"}])",
            absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"replace","path":"//","value":"x"}])",
            absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"replace","path":"/a~2b","value":"x"}])",
            absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"replace","path":"/min_ram","value":-1}])",
            absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"add","path":"/x","value":1}])", absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"replace","path":"/status","value":"active"}])",
            absl::StatusCode::kPermissionDenied},
           {v21, R"([{"op":"replace","path":"/id","value":"x"}])",
            absl::StatusCode::kPermissionDenied},
           {v21, R"([{"op":"add","path":"/os_glance_x","value":"x"}])",
            absl::StatusCode::kPermissionDenied},
           {v21, R"([{"op":"remove","path":"/name"}])", absl::StatusCode::kPermissionDenied},
           {v21, R"([{"op":"replace","path":"/owner","value":"p2"}])",
            absl::StatusCode::kPermissionDenied},
           {v21, R"([{"op":"replace","path":"/nope","value":"x"}])",
            absl::StatusCode::kFailedPrecondition},
           {v21, R"([{"op":"remove","path":"/nope"}])", absl::StatusCode::kFailedPrecondition},
           {PatchDialect::kV20, R"([{"add":"/os_distro","value":"x"}])",
            absl::StatusCode::kFailedPrecondition},
           {PatchDialect::kV20, R"([{"add":"/a","replace":"/b","value":"x"}])",
            absl::StatusCode::kInvalidArgument},
           {v21, R"([{"op":"add","path":"/locations/-","value":{"url":"x","metadata":{}}}])",
            absl::StatusCode::kUnimplemented},
       }) {
    EXPECT_EQ(Plan(c.dialect, c.body, Current(), Member()).status().code(), c.code) << c.body;
  }
}

TEST(ImagePatchTest, EmptyPatchPlansNothing) {
  auto planned = PlanPatch(PatchDialect::kV21, "[]", Current(), Member());
  ASSERT_TRUE(planned.ok());
  EXPECT_FALSE(planned->has_value());
}

TEST(ImagePatchTest, V20AddOfABaseAttributeIsAConflict) {
  for (const char* body : {R"([{"add":"/name","value":"x"}])", R"([{"add":"/min_ram","value":1}])",
                           R"([{"add":"/tags","value":["a"]}])"}) {
    EXPECT_EQ(Plan(PatchDialect::kV20, body, Current(), Member()).status().code(),
              absl::StatusCode::kFailedPrecondition)
        << body;
  }
  EXPECT_TRUE(
      Plan(PatchDialect::kV21, R"([{"op":"add","path":"/name","value":"x"}])", Current(), Member())
          .ok());
}

TEST(ImagePatchTest, V21AddOverwritesExistingProperty) {
  auto u = Plan(PatchDialect::kV21, R"([{"op":"add","path":"/os_distro","value":"arch"}])",
                Current(), Member());
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->set_properties().at("os_distro"), "arch");
}

TEST(ImagePatchTest, FormatsFrozenAfterUpload) {
  v1::Image active = Current();
  active.set_status(v1::IMAGE_STATUS_ACTIVE);
  auto u = Plan(PatchDialect::kV21, R"([{"op":"replace","path":"/disk_format","value":"raw"}])",
                active, Member());
  EXPECT_EQ(u.status().code(), absl::StatusCode::kPermissionDenied);
  u = Plan(PatchDialect::kV21, R"([{"op":"replace","path":"/disk_format","value":"raw"}])",
           Current(), Member());
  EXPECT_TRUE(u.ok());
}

TEST(ImagePatchTest, FailingOperationLeavesNothingApplied) {
  auto u = Plan(PatchDialect::kV21,
                R"([{"op":"replace","path":"/name","value":"x"},
                         {"op":"remove","path":"/missing"}])",
                Current(), Member());
  EXPECT_EQ(u.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace gaze::gateway
