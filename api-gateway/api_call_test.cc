#include "api-gateway/api_call.h"

#include "gtest/gtest.h"

namespace gaze::gateway {
namespace {

namespace v1 = ::gaze::metadata::v1;

class NoBody final : public RequestBody {
 public:
  bool present() const override { return false; }
  std::optional<uint64_t> content_length() const override { return std::nullopt; }
  boost::asio::awaitable<absl::StatusOr<std::string>> ReadAll(size_t) override {
    co_return std::string();
  }
  boost::asio::awaitable<absl::StatusOr<size_t>> ReadSome(char*, size_t) override {
    co_return size_t{0};
  }
};

auth::Identity Caller(std::string project, std::vector<std::string> roles, bool admin = false) {
  auth::Identity id;
  id.user_id = "u";
  id.project_id = std::move(project);
  id.roles = std::move(roles);
  id.is_admin = admin;
  return id;
}

v1::Image SharedImage() {
  v1::Image image;
  image.set_id("6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11");
  image.set_owner("owner-p");
  image.set_visibility(v1::VISIBILITY_SHARED);
  image.set_status(v1::IMAGE_STATUS_ACTIVE);
  image.set_name("deb12");
  image.set_protected_(true);
  image.set_min_ram(512);
  (*image.mutable_properties())["os_distro"] = "debian";
  // Properties named like base attributes must not pose as them.
  (*image.mutable_properties())["project_id"] = "member-p";
  (*image.mutable_properties())["member_id"] = "member-p";
  return image;
}

TEST(ApiCallTest, ImageTargetIsGlancesImageTarget) {
  auth::PolicyTarget t = ImageTarget(SharedImage(), Caller("owner-p", {"member"}));
  EXPECT_EQ(t.at("project_id"), "owner-p");
  EXPECT_EQ(t.at("owner"), "owner-p");
  EXPECT_EQ(t.at("visibility"), "shared");
  EXPECT_EQ(t.at("status"), "active");
  EXPECT_EQ(t.at("id"), "6f1d6a5e-3c0b-4f5e-9a53-2b7f7f0d7a11");
  EXPECT_EQ(t.at("name"), "deb12");
  EXPECT_EQ(t.at("protected"), "True");
  EXPECT_EQ(t.at("os_hidden"), "False");
  EXPECT_EQ(t.at("min_ram"), "512");
  EXPECT_EQ(t.at("os_distro"), "debian");
  EXPECT_FALSE(t.contains("member_id")) << "the owner is not a member";
  EXPECT_FALSE(t.contains("size"));

  // metadata-svc shows another project's shared image only to its members.
  t = ImageTarget(SharedImage(), Caller("member-p", {"member"}));
  EXPECT_EQ(t.at("member_id"), "member-p");
  EXPECT_EQ(t.at("project_id"), "owner-p");
  EXPECT_FALSE(ImageTarget(SharedImage(), Caller("admin-p", {"admin"}, true)).contains("member_id"))
      << "admins see every image, member or not";

  v1::Image public_image = SharedImage();
  public_image.set_visibility(v1::VISIBILITY_PUBLIC);
  EXPECT_FALSE(ImageTarget(public_image, Caller("other-p", {"member"})).contains("member_id"));
  v1::Image ownerless = SharedImage();
  ownerless.clear_owner();
  t = ImageTarget(ownerless, Caller("other-p", {"member"}));
  EXPECT_FALSE(t.contains("project_id"));
  EXPECT_FALSE(t.contains("member_id"));
}

TEST(ApiCallTest, ImageTargetRestrictedToWhatTheRuleReads) {
  const auth::Policy policy;
  const auto attributes = policy.TargetAttributes("get_image");
  EXPECT_TRUE(attributes.contains("project_id"));
  EXPECT_TRUE(attributes.contains("member_id"));
  EXPECT_TRUE(attributes.contains("visibility"));
  for (const auth::Identity& caller :
       {Caller("owner-p", {"reader"}), Caller("member-p", {"reader"}),
        Caller("other-p", {"reader"}), Caller("admin-p", {"admin"}, true)}) {
    for (v1::Visibility visibility : {v1::VISIBILITY_SHARED, v1::VISIBILITY_PRIVATE,
                                      v1::VISIBILITY_PUBLIC, v1::VISIBILITY_COMMUNITY}) {
      v1::Image image = SharedImage();
      image.set_visibility(visibility);
      auth::PolicyTarget only = ImageTarget(image, caller, &attributes);
      for (const auto& [key, value] : only) EXPECT_TRUE(attributes.contains(key)) << key;
      EXPECT_EQ(policy.Allowed("get_image", caller, only),
                policy.Allowed("get_image", caller, ImageTarget(image, caller)))
          << caller.project_id << " " << visibility;
    }
  }
}

TEST(ApiCallTest, AuthorizeIs404WhenInvisibleAnd403WhenVisible) {
  Request request;
  request.method = "DELETE";
  request.path = "/v2/images/x";
  request.headers = {{"Accept", "application/json"}};
  NoBody body;
  std::string request_id = "req-1";
  auth::Policy policy;
  // A reader of the owner sees the image but may not delete it.
  ApiCall reader{request, body, request_id, Caller("owner-p", {"reader"}), policy};
  EXPECT_FALSE(reader.Authorize("get_image", SharedImage()).has_value());
  std::optional<Response> denied = reader.Authorize("delete_image", SharedImage());
  ASSERT_TRUE(denied.has_value());
  EXPECT_EQ(denied->status, 403);
  EXPECT_NE(denied->body.find("delete_image"), std::string::npos);
  // A caller with no role on the owner's project may not even see it.
  ApiCall stranger{request, body, request_id, Caller("owner-p", {}), policy};
  denied = stranger.Authorize("delete_image", SharedImage());
  ASSERT_TRUE(denied.has_value());
  EXPECT_EQ(denied->status, 404);
  // The member role is needed to download; a reader of another project can only look.
  ApiCall member_reader{request, body, request_id, Caller("member-p", {"reader"}), policy};
  EXPECT_FALSE(member_reader.Authorize("get_image", SharedImage()).has_value());
  EXPECT_EQ(member_reader.Authorize("download_image", SharedImage())->status, 403);
  ApiCall member{request, body, request_id, Caller("member-p", {"member", "reader"}), policy};
  EXPECT_FALSE(member.Authorize("download_image", SharedImage()).has_value());
  EXPECT_EQ(member.Authorize("modify_image", SharedImage())->status, 403);
  EXPECT_FALSE(member.Authorize("modify_member", SharedImage()).has_value());
  EXPECT_EQ(member.Authorize("add_member", SharedImage())->status, 403);
}

}  // namespace
}  // namespace gaze::gateway
