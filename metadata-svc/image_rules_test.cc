#include "metadata-svc/image_rules.h"

#include "gtest/gtest.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

v1::Caller Caller(const std::string& project, bool admin = false) {
  v1::Caller c;
  c.set_project_id(project);
  c.set_is_admin(admin);
  return c;
}

TEST(NewImageTest, AppliesDefaults) {
  v1::CreateImageRequest req;
  *req.mutable_caller() = Caller("p1");
  req.mutable_image()->add_tags("b");
  req.mutable_image()->add_tags("a");
  req.mutable_image()->add_tags("b");
  auto img = NewImage(req);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_TRUE(IsUuid(img->id()));
  EXPECT_EQ(img->status(), v1::IMAGE_STATUS_QUEUED);
  EXPECT_EQ(img->visibility(), v1::VISIBILITY_SHARED);
  EXPECT_EQ(img->owner(), "p1");
  EXPECT_FALSE(img->has_name());
  EXPECT_EQ(img->tags_size(), 2);
  EXPECT_EQ(img->tags(0), "b");
  EXPECT_EQ(img->tags(1), "a");
}

TEST(NewImageTest, RejectsBadValues) {
  v1::CreateImageRequest req;
  *req.mutable_caller() = Caller("p1");
  req.mutable_image()->set_id("not-a-uuid");
  EXPECT_EQ(NewImage(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.mutable_image()->clear_id();
  req.mutable_image()->set_min_ram(-1);
  EXPECT_EQ(NewImage(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.mutable_image()->set_min_ram(0);
  req.mutable_image()->set_min_disk(-5);
  EXPECT_EQ(NewImage(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.mutable_image()->set_min_disk(0);
  req.mutable_image()->set_visibility(static_cast<v1::Visibility>(17));
  EXPECT_EQ(NewImage(req).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NewImageTest, OnlyAdminsMayNameAnotherOwner) {
  v1::CreateImageRequest req;
  *req.mutable_caller() = Caller("p1");
  req.mutable_image()->set_owner("p2");
  EXPECT_EQ(NewImage(req).status().code(), absl::StatusCode::kPermissionDenied);
  req.mutable_caller()->set_is_admin(true);
  EXPECT_EQ(NewImage(req)->owner(), "p2");
}

TEST(CheckMayModifyTest, OwnerOrAdmin) {
  v1::Image img;
  img.set_id("x");
  img.set_owner("p1");
  EXPECT_TRUE(CheckMayModify(Caller("p1"), img).ok());
  EXPECT_TRUE(CheckMayModify(Caller("p9", true), img).ok());
  absl::Status s = CheckMayModify(Caller("p2"), img);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "You are not permitted to modify image x.");
  img.clear_owner();  // no owner: admin only
  EXPECT_EQ(CheckMayModify(Caller(""), img).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckMayModify(Caller("", true), img).ok());
}

v1::Image Current(v1::ImageStatus status) {
  v1::Image img;
  img.set_id("x");
  img.set_status(status);
  img.set_owner("p1");
  img.set_name("old");
  img.set_disk_format("raw");
  img.set_container_format("bare");
  img.set_version(3);
  (*img.mutable_properties())["keep"] = "1";
  (*img.mutable_properties())["drop"] = "2";
  return img;
}

v1::UpdateImageRequest Update(std::initializer_list<const char*> paths) {
  v1::UpdateImageRequest req;
  *req.mutable_caller() = Caller("p1");
  for (const char* p : paths) req.mutable_update_mask()->add_paths(p);
  return req;
}

TEST(ApplyUpdateTest, AppliesMaskedFieldsAndProperties) {
  auto req = Update({"name", "min_disk", "tags", "visibility"});
  req.mutable_image()->set_min_disk(4);
  req.mutable_image()->add_tags("t");
  req.mutable_image()->add_tags("t");
  req.mutable_image()->set_visibility(v1::VISIBILITY_PRIVATE);
  req.mutable_image()->set_min_ram(99);  // not in the mask: ignored
  (*req.mutable_set_properties())["new"] = "v";
  req.add_remove_properties("drop");
  auto img = ApplyUpdate(req, Current(v1::IMAGE_STATUS_ACTIVE));
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_FALSE(img->has_name());  // in the mask and unset: NULL
  EXPECT_EQ(img->min_disk(), 4);
  EXPECT_EQ(img->min_ram(), 0);
  EXPECT_EQ(img->tags_size(), 1);
  EXPECT_EQ(img->visibility(), v1::VISIBILITY_PRIVATE);
  EXPECT_EQ(img->properties().size(), 2u);
  EXPECT_EQ(img->properties().at("new"), "v");
  EXPECT_EQ(img->properties().count("drop"), 0u);
}

TEST(ApplyUpdateTest, RejectsUnknownPathAndStaleVersion) {
  auto req = Update({"status"});
  EXPECT_EQ(ValidateUpdateMask(req).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyUpdate(req, Current(v1::IMAGE_STATUS_QUEUED)).status().code(),
            absl::StatusCode::kInvalidArgument);
  req = Update({"name"});
  req.set_expected_version(2);
  EXPECT_EQ(ApplyUpdate(req, Current(v1::IMAGE_STATUS_QUEUED)).status().code(),
            absl::StatusCode::kAborted);
  req.set_expected_version(3);
  EXPECT_TRUE(ApplyUpdate(req, Current(v1::IMAGE_STATUS_QUEUED)).ok());
}

TEST(ApplyUpdateTest, FormatsChangeOnlyWhileQueuedOrImporting) {
  auto req = Update({"disk_format"});
  req.mutable_image()->set_disk_format("qcow2");
  EXPECT_TRUE(ApplyUpdate(req, Current(v1::IMAGE_STATUS_QUEUED)).ok());
  EXPECT_TRUE(ApplyUpdate(req, Current(v1::IMAGE_STATUS_IMPORTING)).ok());
  auto denied = ApplyUpdate(req, Current(v1::IMAGE_STATUS_ACTIVE));
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  // Writing the current value back is not a change (glanceclient sends whole images).
  req.mutable_image()->set_disk_format("raw");
  EXPECT_TRUE(ApplyUpdate(req, Current(v1::IMAGE_STATUS_ACTIVE)).ok());
  req = Update({"container_format"});
  EXPECT_EQ(ApplyUpdate(req, Current(v1::IMAGE_STATUS_ACTIVE)).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(ApplyUpdateTest, NegativeMinimumsAndOwnerChanges) {
  auto req = Update({"min_ram"});
  req.mutable_image()->set_min_ram(-1);
  EXPECT_EQ(ApplyUpdate(req, Current(v1::IMAGE_STATUS_QUEUED)).status().code(),
            absl::StatusCode::kInvalidArgument);
  req = Update({"owner"});
  req.mutable_image()->set_owner("p2");
  EXPECT_EQ(ApplyUpdate(req, Current(v1::IMAGE_STATUS_QUEUED)).status().code(),
            absl::StatusCode::kPermissionDenied);
  req.mutable_image()->set_owner("p1");
  EXPECT_TRUE(ApplyUpdate(req, Current(v1::IMAGE_STATUS_QUEUED)).ok());
  req.mutable_caller()->set_is_admin(true);
  req.mutable_image()->set_owner("p2");
  EXPECT_EQ(ApplyUpdate(req, Current(v1::IMAGE_STATUS_QUEUED))->owner(), "p2");
}

TEST(ApplyUpdateTest, StatusAndOtherReadOnlyFieldsNeverChange) {
  auto req = Update({"name"});
  req.mutable_image()->set_name("new");
  req.mutable_image()->set_status(v1::IMAGE_STATUS_ACTIVE);
  req.mutable_image()->set_size(5);
  req.mutable_image()->set_checksum("forged");
  auto img = ApplyUpdate(req, Current(v1::IMAGE_STATUS_QUEUED));
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->status(), v1::IMAGE_STATUS_QUEUED);
  EXPECT_FALSE(img->has_size());
  EXPECT_FALSE(img->has_checksum());
  for (const char* path : {"status", "size", "checksum", "os_hash_value", "id", "version"}) {
    EXPECT_EQ(ValidateUpdateMask(Update({path})).code(), absl::StatusCode::kInvalidArgument)
        << path;
  }
}

TEST(StatusAfterTest, DeactivateAndReactivate) {
  EXPECT_EQ(*StatusAfter(v1::STATUS_ACTION_DEACTIVATE, v1::IMAGE_STATUS_ACTIVE),
            v1::IMAGE_STATUS_DEACTIVATED);
  EXPECT_EQ(*StatusAfter(v1::STATUS_ACTION_DEACTIVATE, v1::IMAGE_STATUS_DEACTIVATED),
            v1::IMAGE_STATUS_DEACTIVATED);
  EXPECT_EQ(*StatusAfter(v1::STATUS_ACTION_REACTIVATE, v1::IMAGE_STATUS_DEACTIVATED),
            v1::IMAGE_STATUS_ACTIVE);
  EXPECT_EQ(*StatusAfter(v1::STATUS_ACTION_REACTIVATE, v1::IMAGE_STATUS_ACTIVE),
            v1::IMAGE_STATUS_ACTIVE);
}

TEST(StatusAfterTest, EveryOtherStatusIsDenied) {
  for (v1::ImageStatus s :
       {v1::IMAGE_STATUS_QUEUED, v1::IMAGE_STATUS_SAVING, v1::IMAGE_STATUS_UPLOADING,
        v1::IMAGE_STATUS_IMPORTING, v1::IMAGE_STATUS_KILLED, v1::IMAGE_STATUS_PENDING_DELETE,
        v1::IMAGE_STATUS_DELETED}) {
    auto d = StatusAfter(v1::STATUS_ACTION_DEACTIVATE, s);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kPermissionDenied) << s;
    auto r = StatusAfter(v1::STATUS_ACTION_REACTIVATE, s);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << s;
  }
  EXPECT_EQ(StatusAfter(v1::STATUS_ACTION_DEACTIVATE, v1::IMAGE_STATUS_QUEUED).status().message(),
            "Not allowed to deactivate image in status 'queued'");
  EXPECT_EQ(StatusAfter(v1::STATUS_ACTION_REACTIVATE, v1::IMAGE_STATUS_SAVING).status().message(),
            "Not allowed to reactivate image in status 'saving'");
  EXPECT_EQ(StatusAfter(v1::STATUS_ACTION_UNSPECIFIED, v1::IMAGE_STATUS_ACTIVE).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MemberRulesTest, MemberIds) {
  EXPECT_TRUE(ValidateMemberId("p2").ok());
  EXPECT_TRUE(ValidateMemberId(std::string(255, 'm')).ok());
  EXPECT_EQ(ValidateMemberId("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateMemberId(std::string(256, 'm')).code(), absl::StatusCode::kInvalidArgument);
}

TEST(MemberRulesTest, WhoMayDoWhat) {
  v1::Image img;
  img.set_id("x");
  img.set_owner("p1");
  img.set_visibility(v1::VISIBILITY_PRIVATE);
  absl::Status s = CheckShared(img);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "Only shared images have members.");
  img.set_visibility(v1::VISIBILITY_SHARED);
  EXPECT_TRUE(CheckShared(img).ok());

  EXPECT_TRUE(ManagesMembers(Caller("p1"), img));
  EXPECT_TRUE(ManagesMembers(Caller("p9", true), img));
  EXPECT_FALSE(ManagesMembers(Caller("p2"), img));
  s = CheckManagesMembers(Caller("p2"), img, "create");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "Not allowed to create members for image x.");

  // Only the member itself (or an admin) decides; the owner may not.
  EXPECT_TRUE(CheckMayUpdateMember(Caller("p2"), img, "p2").ok());
  EXPECT_TRUE(CheckMayUpdateMember(Caller("p9", true), img, "p2").ok());
  EXPECT_EQ(CheckMayUpdateMember(Caller("p1"), img, "p2").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckMayUpdateMember(Caller("p3"), img, "p2").code(),
            absl::StatusCode::kPermissionDenied);

  s = MemberNotFound("x", "p2");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "p2 not found in the member list of the image x.");
}

}  // namespace
}  // namespace gaze::metadata
