// The image status machine against a real PostgreSQL: deactivate / reactivate as a
// compare-and-set, and the holes a state machine can have: status written by UpdateImage,
// calls on a deleted image, delete from every status.
#include "gtest/gtest.h"
#include "metadata-svc/testing/image_fixture.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

using testing::Caller;

class LifecycleTest : public testing::ImageFixture {
 protected:
  // An image of p1 forced into `status` (the states no call reaches yet).
  std::string InStatus(const std::string& status) {
    std::string id = Create(Caller("p1"), [](v1::Image& i) {
                       i.set_disk_format("raw");
                       i.set_container_format("bare");
                     }).id();
    Sql("UPDATE images SET status = '" + status + "' WHERE id = '" + id + "'");
    return id;
  }
};

constexpr auto kDeactivate = v1::STATUS_ACTION_DEACTIVATE;
constexpr auto kReactivate = v1::STATUS_ACTION_REACTIVATE;

TEST_F(LifecycleTest, DeactivateAndReactivateAreIdempotent) {
  const v1::Caller p1 = Caller("p1");
  v1::Image img = CreateActive(p1);
  auto off = ChangeStatus(p1, img.id(), kDeactivate);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->status(), v1::IMAGE_STATUS_DEACTIVATED);
  EXPECT_EQ(off->version(), img.version() + 1);
  EXPECT_EQ(off->size(), img.size());  // data and location stay
  EXPECT_EQ(off->locations_size(), 1);

  auto again = ChangeStatus(p1, img.id(), kDeactivate);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status(), v1::IMAGE_STATUS_DEACTIVATED);
  EXPECT_EQ(again->version(), off->version());  // no-op: nothing written

  auto on = ChangeStatus(p1, img.id(), kReactivate);
  ASSERT_TRUE(on.ok());
  EXPECT_EQ(on->status(), v1::IMAGE_STATUS_ACTIVE);
  EXPECT_EQ(on->version(), off->version() + 1);
  EXPECT_EQ(ChangeStatus(p1, img.id(), kReactivate)->version(), on->version());
  EXPECT_EQ(Get(p1, img.id())->status(), v1::IMAGE_STATUS_ACTIVE);
}

TEST_F(LifecycleTest, OtherStatusesAreDenied) {
  const v1::Caller p1 = Caller("p1");
  v1::Image queued = Create(p1, [](v1::Image& i) {
    i.set_disk_format("raw");
    i.set_container_format("bare");
  });
  auto r = ChangeStatus(p1, queued.id(), kDeactivate);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(r.status().message(), "Not allowed to deactivate image in status 'queued'");
  ASSERT_TRUE(Begin(p1, queued.id(), "u1").ok());
  r = ChangeStatus(p1, queued.id(), kReactivate);
  EXPECT_EQ(r.status().message(), "Not allowed to reactivate image in status 'saving'");
  for (const std::string status : {"uploading", "importing", "killed", "pending_delete"}) {
    std::string id = InStatus(status);
    // A pending_delete image is deleted to all but admins (Glance's can_see_deleted).
    const auto expected = status == "pending_delete" ? absl::StatusCode::kNotFound
                                                     : absl::StatusCode::kPermissionDenied;
    for (auto action : {kDeactivate, kReactivate}) {
      EXPECT_EQ(ChangeStatus(p1, id, action).status().code(), expected) << status;
      EXPECT_EQ(ChangeStatus(Caller("adm", true), id, action).status().code(),
                absl::StatusCode::kPermissionDenied)
          << status;
    }
    EXPECT_EQ(Sql("SELECT status FROM images WHERE id = '" + id + "'"), status);
  }
  EXPECT_EQ(ChangeStatus(p1, CreateActive(p1).id(), v1::STATUS_ACTION_UNSPECIFIED).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LifecycleTest, OnlyTheOwnerOrAnAdminChangesStatus) {
  const v1::Caller p1 = Caller("p1");
  v1::Image shared = CreateActive(p1);  // shared by default
  ASSERT_TRUE(AddMember(p1, shared.id(), "p2").ok());
  auto member = ChangeStatus(Caller("p2"), shared.id(), kDeactivate);
  EXPECT_EQ(member.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(member.status().message(),
            "You are not permitted to modify image " + shared.id() + ".");
  EXPECT_EQ(ChangeStatus(Caller("p3"), shared.id(), kDeactivate).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ChangeStatus(p1, NewUuid(), kDeactivate).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ChangeStatus(p1, "x", kDeactivate).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(ChangeStatus(Caller("adm", true), shared.id(), kDeactivate).ok());
}

TEST_F(LifecycleTest, DeactivatedImagesKeepTheirMetadataEditableButTakeNoUpload) {
  const v1::Caller p1 = Caller("p1");
  v1::Image img = CreateActive(p1);
  ASSERT_TRUE(ChangeStatus(p1, img.id(), kDeactivate).ok());
  auto renamed = Update(p1, img.id(), [](v1::UpdateImageRequest& u) {
    u.mutable_update_mask()->add_paths("name");
    u.mutable_image()->set_name("renamed");
  });
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(renamed->status(), v1::IMAGE_STATUS_DEACTIVATED);
  EXPECT_EQ(Begin(p1, img.id(), "u2").status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Delete(p1, img.id()).ok());
}

TEST_F(LifecycleTest, UpdateImageCannotWriteTheStatus) {
  const v1::Caller p1 = Caller("p1");
  v1::Image img = Create(p1);
  auto r = Update(p1, img.id(), [](v1::UpdateImageRequest& u) {
    u.mutable_update_mask()->add_paths("status");
    u.mutable_image()->set_status(v1::IMAGE_STATUS_ACTIVE);
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  r = Update(p1, img.id(), [](v1::UpdateImageRequest& u) {
    u.mutable_update_mask()->add_paths("name");
    u.mutable_image()->set_status(v1::IMAGE_STATUS_ACTIVE);
    u.mutable_image()->set_size(99);
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status(), v1::IMAGE_STATUS_QUEUED);
  EXPECT_FALSE(r->has_size());
}

TEST_F(LifecycleTest, DeleteWorksFromEveryStatusAndIsTerminal) {
  const v1::Caller p1 = Caller("p1");
  std::vector<std::string> ids = {Create(p1).id(), CreateActive(p1).id()};
  v1::Image saving = Create(p1, [](v1::Image& i) {
    i.set_disk_format("raw");
    i.set_container_format("bare");
  });
  ASSERT_TRUE(Begin(p1, saving.id(), "u1").ok());
  ids.push_back(saving.id());
  v1::Image deactivated = CreateActive(p1);
  ASSERT_TRUE(ChangeStatus(p1, deactivated.id(), kDeactivate).ok());
  ids.push_back(deactivated.id());
  for (const char* status : {"uploading", "importing", "killed", "pending_delete"}) {
    ids.push_back(InStatus(status));
  }
  const std::string& pending_delete = ids.back();
  // Only an admin sees, and so may delete, an image awaiting the delayed delete.
  EXPECT_EQ(Delete(p1, pending_delete).status().code(), absl::StatusCode::kNotFound);
  for (const std::string& id : ids) {
    const v1::Caller& deleter = id == pending_delete ? Caller("adm", true) : p1;
    ASSERT_TRUE(Delete(deleter, id).ok())
        << Sql("SELECT status FROM images WHERE id = '" + id + "'");
    EXPECT_EQ(Sql("SELECT status || ' ' || deleted FROM images WHERE id = '" + id + "'"),
              "deleted true");
    // Nothing brings a deleted image back, not even for an admin.
    for (const v1::Caller& caller : {p1, Caller("adm", true)}) {
      EXPECT_EQ(Get(caller, id).status().code(), absl::StatusCode::kNotFound);
      EXPECT_EQ(Delete(caller, id).status().code(), absl::StatusCode::kNotFound);
      EXPECT_EQ(ChangeStatus(caller, id, kReactivate).status().code(), absl::StatusCode::kNotFound);
      EXPECT_EQ(Update(caller, id,
                       [](v1::UpdateImageRequest& u) {
                         u.mutable_update_mask()->add_paths("visibility");
                         u.mutable_image()->set_visibility(v1::VISIBILITY_SHARED);
                       })
                    .status()
                    .code(),
                absl::StatusCode::kNotFound);
      EXPECT_EQ(Begin(caller, id, "u9").status().code(), absl::StatusCode::kNotFound);
      EXPECT_EQ(AddMember(caller, id, "p2").status().code(), absl::StatusCode::kNotFound);
    }
  }
  // The upload in flight cannot complete into a deleted image.
  EXPECT_EQ(Complete(saving.id(), "u1").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Sql("SELECT count(*) FROM images WHERE status <> 'deleted'"), "0");
}

}  // namespace
}  // namespace gaze::metadata
