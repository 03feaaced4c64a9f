// Image sharing against a real PostgreSQL: the member calls and who may make them, and what
// members see: GetImage, and the list matrix of visibility x member status for the owner, a
// pending, accepted and rejected member, a non-member and an admin.
#include <map>
#include <vector>

#include "gtest/gtest.h"
#include "metadata-svc/testing/image_fixture.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

using testing::Caller;

class MembersTest : public testing::ImageFixture {
 protected:
  std::string Shared(const v1::Caller& owner) {
    return Create(owner, [](v1::Image& i) { i.set_visibility(v1::VISIBILITY_SHARED); }).id();
  }

  void SetVisibility(const v1::Caller& caller, const std::string& id, v1::Visibility v) {
    auto r = Update(caller, id, [v](v1::UpdateImageRequest& u) {
      u.mutable_update_mask()->add_paths("visibility");
      u.mutable_image()->set_visibility(v);
    });
    ASSERT_TRUE(r.ok()) << r.status();
  }
};

TEST_F(MembersTest, OwnerAddsPendingMembersOnceEach) {
  const v1::Caller p1 = Caller("p1");
  std::string img = Shared(p1);
  auto m = AddMember(p1, img, "p2");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->image_id(), img);
  EXPECT_EQ(m->member_id(), "p2");
  EXPECT_EQ(m->status(), v1::MEMBER_STATUS_PENDING);
  EXPECT_GT(m->created_at().seconds(), 1700000000);
  EXPECT_EQ(m->created_at().seconds(), m->updated_at().seconds());

  auto dup = AddMember(p1, img, "p2");
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.status().message(), "Member p2 is duplicated for image " + img);
  // An admin may add members to any shared image.
  EXPECT_TRUE(AddMember(Caller("adm", true), img, "p3").ok());
  // Any string up to 255 characters is a member id.
  EXPECT_TRUE(AddMember(p1, img, std::string(255, 'x')).ok());
  EXPECT_EQ(AddMember(p1, img, std::string(256, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AddMember(p1, img, "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MembersTest, AddMemberNegativeCases) {
  const v1::Caller p1 = Caller("p1");
  std::string img = Shared(p1);
  ASSERT_TRUE(AddMember(p1, img, "p2").ok());
  // A member sees the image but may not share it further.
  auto denied = AddMember(Caller("p2"), img, "p3");
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().message(), "Not allowed to create members for image " + img + ".");
  EXPECT_EQ(AddMember(Caller("p3"), img, "p3").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AddMember(p1, NewUuid(), "p2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AddMember(p1, "nope", "p2").status().code(), absl::StatusCode::kNotFound);

  for (v1::Visibility v :
       {v1::VISIBILITY_PRIVATE, v1::VISIBILITY_PUBLIC, v1::VISIBILITY_COMMUNITY}) {
    std::string other = Create(p1, [v](v1::Image& i) { i.set_visibility(v); }).id();
    auto r = AddMember(p1, other, "p2");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << v;
    EXPECT_EQ(r.status().message(), "Only shared images have members.");
  }
  ASSERT_TRUE(Delete(p1, img).ok());
  EXPECT_EQ(AddMember(p1, img, "p4").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MembersTest, MembersSeeTheImageWhateverTheirStatus) {
  const v1::Caller p1 = Caller("p1"), p2 = Caller("p2"), p3 = Caller("p3");
  std::string img = Shared(p1);
  EXPECT_EQ(Get(p2, img).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(AddMember(p1, img, "p2").ok());
  EXPECT_TRUE(Get(p2, img).ok());  // pending
  ASSERT_TRUE(UpdateMember(p2, img, "p2", v1::MEMBER_STATUS_REJECTED).ok());
  EXPECT_TRUE(Get(p2, img).ok());
  EXPECT_EQ(Get(p3, img).status().code(), absl::StatusCode::kNotFound);
  // A member may read but not change the image.
  auto denied = Update(
      p2, img, [](v1::UpdateImageRequest& u) { u.mutable_update_mask()->add_paths("name"); });
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Delete(p2, img).status().code(), absl::StatusCode::kPermissionDenied);

  // Private: the rows stay but grant nothing; shared again: they count again.
  SetVisibility(p1, img, v1::VISIBILITY_PRIVATE);
  EXPECT_EQ(Get(p2, img).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Sql("SELECT status FROM image_members WHERE NOT deleted"), "rejected");
  SetVisibility(p1, img, v1::VISIBILITY_SHARED);
  EXPECT_TRUE(Get(p2, img).ok());
  EXPECT_EQ(GetMember(p2, img, "p2")->status(), v1::MEMBER_STATUS_REJECTED);

  ASSERT_TRUE(DeleteMember(p1, img, "p2").ok());
  EXPECT_EQ(Get(p2, img).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MembersTest, OnlyTheMemberItselfOrAnAdminDecides) {
  const v1::Caller p1 = Caller("p1"), p2 = Caller("p2"), p4 = Caller("p4");
  std::string img = Shared(p1);
  ASSERT_TRUE(AddMember(p1, img, "p2").ok());
  ASSERT_TRUE(AddMember(p1, img, "p4").ok());
  auto accepted = UpdateMember(p2, img, "p2", v1::MEMBER_STATUS_ACCEPTED);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->status(), v1::MEMBER_STATUS_ACCEPTED);
  EXPECT_EQ(GetMember(p1, img, "p2")->status(), v1::MEMBER_STATUS_ACCEPTED);

  auto owner = UpdateMember(p1, img, "p2", v1::MEMBER_STATUS_REJECTED);
  EXPECT_EQ(owner.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(owner.status().message(), "Not allowed to update members for image " + img + ".");
  EXPECT_EQ(UpdateMember(p4, img, "p2", v1::MEMBER_STATUS_REJECTED).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(UpdateMember(Caller("p3"), img, "p3", v1::MEMBER_STATUS_ACCEPTED).status().code(),
            absl::StatusCode::kNotFound);  // cannot see the image
  EXPECT_TRUE(UpdateMember(Caller("adm", true), img, "p2", v1::MEMBER_STATUS_PENDING).ok());
  EXPECT_EQ(UpdateMember(Caller("adm", true), img, "p9", v1::MEMBER_STATUS_PENDING).status(),
            absl::NotFoundError("p9 not found in the member list of the image " + img + "."));
  EXPECT_EQ(UpdateMember(p2, img, "p2", v1::MEMBER_STATUS_UNSPECIFIED).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UpdateMember(p2, img, "p2", static_cast<v1::MemberStatus>(42)).status().code(),
            absl::StatusCode::kInvalidArgument);

  SetVisibility(p1, img, v1::VISIBILITY_PUBLIC);
  auto not_shared = UpdateMember(p2, img, "p2", v1::MEMBER_STATUS_ACCEPTED);
  EXPECT_EQ(not_shared.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(not_shared.status().message(), "Only shared images have members.");
}

TEST_F(MembersTest, ListAndGetShowMembersToTheOwnerAndEachMemberItsOwnRecord) {
  const v1::Caller p1 = Caller("p1"), p2 = Caller("p2"), p4 = Caller("p4");
  std::string img = Shared(p1);
  ASSERT_TRUE(AddMember(p1, img, "p2").ok());
  ASSERT_TRUE(AddMember(p1, img, "p4").ok());
  using S = std::set<std::string>;
  EXPECT_EQ(ListMemberIds(p1, img), (S{"p2", "p4"}));
  EXPECT_EQ(ListMemberIds(Caller("adm", true), img), (S{"p2", "p4"}));
  EXPECT_EQ(ListMemberIds(p2, img), (S{"p2"}));
  EXPECT_EQ(ListMemberIds(Caller("p3"), img), (S{"NOT_FOUND"}));
  EXPECT_EQ(ListMemberIds(p1, NewUuid()), (S{"NOT_FOUND"}));

  EXPECT_TRUE(GetMember(p1, img, "p4").ok());
  EXPECT_TRUE(GetMember(p2, img, "p2").ok());
  EXPECT_TRUE(GetMember(Caller("adm", true), img, "p2").ok());
  // Anyone else, and any member that is not there, is NOT_FOUND.
  auto other = GetMember(p2, img, "p4");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(other.status().message(), "p4 not found in the member list of the image " + img + ".");
  EXPECT_EQ(GetMember(p1, img, "p9").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetMember(Caller("p3"), img, "p3").status().code(), absl::StatusCode::kNotFound);

  // Not shared: listing is PERMISSION_DENIED, showing NOT_FOUND.
  SetVisibility(p1, img, v1::VISIBILITY_PRIVATE);
  EXPECT_EQ(ListMemberIds(p1, img), (S{"PERMISSION_DENIED"}));
  EXPECT_EQ(GetMember(p1, img, "p2").status().code(), absl::StatusCode::kNotFound);

  // An ownerless shared image is visible to all; a non-member lists nothing.
  std::string ownerless =
      Create(Caller("", true), [](v1::Image& i) { i.set_visibility(v1::VISIBILITY_SHARED); }).id();
  EXPECT_EQ(ListMemberIds(Caller("p3"), ownerless), (S{}));
}

TEST_F(MembersTest, DeleteByTheOwnerOnlyAndReAddRevives) {
  const v1::Caller p1 = Caller("p1"), p2 = Caller("p2");
  std::string img = Shared(p1);
  ASSERT_TRUE(AddMember(p1, img, "p2").ok());
  ASSERT_TRUE(UpdateMember(p2, img, "p2", v1::MEMBER_STATUS_ACCEPTED).ok());

  absl::Status self = DeleteMember(p2, img, "p2");
  EXPECT_EQ(self.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(self.message(), "Not allowed to delete members for image " + img + ".");
  EXPECT_EQ(DeleteMember(Caller("p3"), img, "p2").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(DeleteMember(p1, img, "p9").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(DeleteMember(p1, img, "p2").ok());
  EXPECT_EQ(DeleteMember(p1, img, "p2").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetMember(p1, img, "p2").status().code(), absl::StatusCode::kNotFound);

  auto revived = AddMember(p1, img, "p2");
  ASSERT_TRUE(revived.ok()) << revived.status();
  EXPECT_EQ(revived->status(), v1::MEMBER_STATUS_PENDING);
  EXPECT_EQ(Sql("SELECT count(*) || ' ' || bool_and(NOT deleted) FROM image_members"), "1 true");

  ASSERT_TRUE(AddMember(p1, img, "p4").ok());
  ASSERT_TRUE(DeleteMember(Caller("adm", true), img, "p4").ok());
  SetVisibility(p1, img, v1::VISIBILITY_PRIVATE);
  absl::Status not_shared = DeleteMember(p1, img, "p2");
  EXPECT_EQ(not_shared.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(not_shared.message(), "Only shared images have members.");
}

TEST_F(MembersTest, OwnerlessSharesAreListedOnceForTheirMembers) {
  std::string img =
      Create(Caller("", true), [](v1::Image& i) { i.set_visibility(v1::VISIBILITY_SHARED); }).id();
  ASSERT_TRUE(AddMember(Caller("adm", true), img, "p1").ok());
  EXPECT_EQ(ListIds(Caller("p1")), (std::set<std::string>{}));  // pending
  ASSERT_TRUE(UpdateMember(Caller("p1"), img, "p1", v1::MEMBER_STATUS_ACCEPTED).ok());
  auto listed = List(Caller("p1"));
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->images_size(), 1);
  EXPECT_EQ(listed->images(0).id(), img);
  for (auto visibility : {v1::VISIBILITY_FILTER_ALL, v1::VISIBILITY_FILTER_SHARED}) {
    listed = List(Caller("p1"), [&](v1::ListImagesRequest& r) {
      r.mutable_filter()->set_visibility(visibility);
    });
    ASSERT_TRUE(listed.ok()) << listed.status();
    EXPECT_EQ(listed->images_size(), 1) << visibility;  // not once per branch
  }
}

TEST_F(MembersTest, DeletingTheImageDeletesItsMembers) {
  const v1::Caller p1 = Caller("p1");
  std::string img = Shared(p1);
  ASSERT_TRUE(AddMember(p1, img, "p2").ok());
  ASSERT_TRUE(AddMember(p1, img, "p3").ok());
  ASSERT_TRUE(Delete(p1, img).ok());
  EXPECT_EQ(Sql("SELECT count(*) FROM image_members WHERE deleted AND deleted_at IS NOT NULL"),
            "2");
  EXPECT_EQ(Get(Caller("p2"), img).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MembersTest, MemberLimitCountsLiveMembersOnly) {
  UseLimits({.properties = 128, .tags = 128, .members = 2});
  const v1::Caller p1 = Caller("p1");
  std::string img = Shared(p1);
  ASSERT_TRUE(AddMember(p1, img, "p2").ok());
  ASSERT_TRUE(AddMember(p1, img, "p3").ok());
  auto over = AddMember(p1, img, "p4");
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(over.status().message(),
            "The limit has been exceeded on the number of allowed image members for this image. "
            "Attempted: 3, Maximum: 2");
  // The limit is per image.
  EXPECT_TRUE(AddMember(p1, Shared(p1), "p4").ok());
  ASSERT_TRUE(DeleteMember(p1, img, "p2").ok());
  EXPECT_TRUE(AddMember(p1, img, "p4").ok());
  EXPECT_EQ(AddMember(p1, img, "p2").status().code(), absl::StatusCode::kResourceExhausted);
}

// The list matrix. Project p1 owns one image of each visibility; p2 owns public, community
// and private images and four shared ones: with p1 as pending, accepted and rejected member,
// and without p1. p2 also has a private image with an accepted p1 row, which grants nothing.
// An admin without project created an ownerless private image.
class MemberListTest : public MembersTest {
 protected:
  void SetUp() override {
    MembersTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const v1::Caller p1 = Caller("p1"), p2 = Caller("p2");
    auto make = [&](const v1::Caller& owner, v1::Visibility v, const std::string& name) {
      ids_[name] = Create(owner, [&](v1::Image& i) {
                     i.set_visibility(v);
                     i.set_name(name);
                   }).id();
    };
    make(p1, v1::VISIBILITY_PUBLIC, "own_public");
    make(p1, v1::VISIBILITY_COMMUNITY, "own_community");
    make(p1, v1::VISIBILITY_SHARED, "own_shared");
    make(p1, v1::VISIBILITY_PRIVATE, "own_private");
    make(p2, v1::VISIBILITY_PUBLIC, "public");
    make(p2, v1::VISIBILITY_COMMUNITY, "community");
    make(p2, v1::VISIBILITY_PRIVATE, "private");
    make(Caller("", true), v1::VISIBILITY_PRIVATE, "ownerless");
    for (const char* name : {"pending", "accepted", "rejected", "unshared", "private_member"}) {
      make(p2, v1::VISIBILITY_SHARED, name);
    }
    ASSERT_TRUE(AddMember(p2, ids_["pending"], "p1").ok());
    ASSERT_TRUE(AddMember(p2, ids_["accepted"], "p1").ok());
    ASSERT_TRUE(AddMember(p2, ids_["rejected"], "p1").ok());
    ASSERT_TRUE(AddMember(p2, ids_["private_member"], "p1").ok());
    ASSERT_TRUE(UpdateMember(p1, ids_["accepted"], "p1", v1::MEMBER_STATUS_ACCEPTED).ok());
    ASSERT_TRUE(UpdateMember(p1, ids_["rejected"], "p1", v1::MEMBER_STATUS_REJECTED).ok());
    ASSERT_TRUE(UpdateMember(p1, ids_["private_member"], "p1", v1::MEMBER_STATUS_ACCEPTED).ok());
    SetVisibility(p2, ids_["private_member"], v1::VISIBILITY_PRIVATE);
  }

  // The names of the images `caller` lists.
  std::set<std::string> Names(const v1::Caller& caller, v1::VisibilityFilter visibility,
                              v1::MemberStatusFilter member_status) {
    std::set<std::string> names;
    auto r = List(caller, [&](v1::ListImagesRequest& req) {
      req.mutable_filter()->set_visibility(visibility);
      req.mutable_filter()->set_member_status(member_status);
    });
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) {
      for (const v1::Image& img : r->images()) names.insert(img.name());
    }
    return names;
  }

  std::map<std::string, std::string> ids_;
};

using S = std::set<std::string>;
constexpr auto kDefault = v1::VISIBILITY_FILTER_DEFAULT;
constexpr auto kAll = v1::VISIBILITY_FILTER_ALL;
constexpr auto kAccepted = v1::MEMBER_STATUS_FILTER_ACCEPTED;
constexpr auto kPending = v1::MEMBER_STATUS_FILTER_PENDING;
constexpr auto kRejected = v1::MEMBER_STATUS_FILTER_REJECTED;
constexpr auto kAnyStatus = v1::MEMBER_STATUS_FILTER_ALL;

TEST_F(MemberListTest, DefaultListShowsSharesOfTheRequestedMemberStatus) {
  const v1::Caller p1 = Caller("p1");
  const S own = {"own_public", "own_community", "own_shared", "own_private"};
  auto with = [&](std::initializer_list<const char*> more) {
    S s = own;
    s.insert(more.begin(), more.end());
    return s;
  };
  EXPECT_EQ(Names(p1, kDefault, kAccepted), with({"public", "accepted"}));
  EXPECT_EQ(Names(p1, kDefault, kPending), with({"public", "pending"}));
  EXPECT_EQ(Names(p1, kDefault, kRejected), with({"public", "rejected"}));
  EXPECT_EQ(Names(p1, kDefault, kAnyStatus), with({"public", "pending", "accepted", "rejected"}));
}

TEST_F(MemberListTest, ExplicitVisibilities) {
  const v1::Caller p1 = Caller("p1");
  EXPECT_EQ(Names(p1, v1::VISIBILITY_FILTER_PUBLIC, kAccepted), (S{"own_public", "public"}));
  EXPECT_EQ(Names(p1, v1::VISIBILITY_FILTER_COMMUNITY, kAccepted),
            (S{"own_community", "community"}));
  EXPECT_EQ(Names(p1, v1::VISIBILITY_FILTER_SHARED, kAccepted), (S{"own_shared", "accepted"}));
  EXPECT_EQ(Names(p1, v1::VISIBILITY_FILTER_SHARED, kPending), (S{"own_shared", "pending"}));
  EXPECT_EQ(Names(p1, v1::VISIBILITY_FILTER_SHARED, kAnyStatus),
            (S{"own_shared", "pending", "accepted", "rejected"}));
  EXPECT_EQ(Names(p1, v1::VISIBILITY_FILTER_PRIVATE, kAnyStatus), (S{"own_private", "ownerless"}));
  EXPECT_EQ(Names(p1, kAll, kAccepted),
            (S{"own_public", "own_community", "own_shared", "own_private", "public", "community",
               "accepted", "ownerless"}));
}

TEST_F(MemberListTest, OwnerNonMemberAndAdmin) {
  EXPECT_EQ(Names(Caller("p2"), kDefault, kAccepted),
            (S{"public", "community", "private", "pending", "accepted", "rejected", "unshared",
               "private_member", "own_public"}));
  EXPECT_EQ(Names(Caller("p2"), v1::VISIBILITY_FILTER_SHARED, kPending),
            (S{"pending", "accepted", "rejected", "unshared"}));  // its own, whatever members do
  EXPECT_EQ(Names(Caller("p3"), kDefault, kAnyStatus), (S{"own_public", "public"}));
  EXPECT_EQ(Names(Caller("p3"), v1::VISIBILITY_FILTER_SHARED, kAnyStatus), (S{}));

  const v1::Caller admin = Caller("adm", true);
  S everything;
  for (const auto& [name, id] : ids_) everything.insert(name);
  S not_community = everything;
  not_community.erase("own_community");
  not_community.erase("community");
  for (auto status : {kAccepted, kPending, kAnyStatus}) {
    EXPECT_EQ(Names(admin, kDefault, status), not_community);
    EXPECT_EQ(Names(admin, kAll, status), everything);
    EXPECT_EQ(Names(admin, v1::VISIBILITY_FILTER_SHARED, status),
              (S{"own_shared", "pending", "accepted", "rejected", "unshared"}));
  }
}

// ListImages(ALL, any member status) and GetImage apply the same rule, for every caller.
TEST_F(MemberListTest, EverythingVisibleIsListedAndNothingElse) {
  for (const v1::Caller& caller :
       {Caller("p1"), Caller("p2"), Caller("p3"), Caller("", false), Caller("adm", true)}) {
    S gettable;
    for (const auto& [name, id] : ids_) {
      if (Get(caller, id).ok()) gettable.insert(name);
    }
    EXPECT_EQ(Names(caller, kAll, kAnyStatus), gettable) << caller.DebugString();
  }
  // The private image with an accepted p1 row is not visible to p1.
  EXPECT_EQ(Get(Caller("p1"), ids_["private_member"]).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Get(Caller("p1"), ids_["rejected"]).ok());
}

TEST_F(MemberListTest, PagesThroughTheBranchesInEveryOrder) {
  const v1::Caller p1 = Caller("p1");
  for (auto sort : std::vector<std::vector<std::pair<v1::SortField, bool>>>{
           {},
           {{v1::SORT_FIELD_NAME, false}},
           {{v1::SORT_FIELD_NAME, true}},
           {{v1::SORT_FIELD_STATUS, false}, {v1::SORT_FIELD_NAME, true}}}) {
    auto with_sort = [&](v1::ListImagesRequest& req) {
      req.mutable_filter()->set_visibility(kAll);
      req.mutable_filter()->set_member_status(kAnyStatus);
      for (const auto& [field, desc] : sort) {
        v1::SortKey* k = req.add_sort();
        k->set_field(field);
        k->set_descending(desc);
      }
    };
    auto all = List(p1, with_sort);
    ASSERT_TRUE(all.ok()) << all.status();
    std::vector<std::string> expected, paged;
    for (const v1::Image& img : all->images()) expected.push_back(img.id());
    ASSERT_EQ(expected.size(), 10u);
    std::string marker;
    for (int page = 0; page < 20; ++page) {
      auto r = List(p1, [&](v1::ListImagesRequest& req) {
        with_sort(req);
        req.set_limit(2);
        req.set_marker(marker);
      });
      ASSERT_TRUE(r.ok()) << r.status();
      for (const v1::Image& img : r->images()) paged.push_back(img.id());
      if (!r->page_full()) break;
      marker = r->images(1).id();
    }
    EXPECT_EQ(paged, expected);
  }
}

}  // namespace
}  // namespace gaze::metadata
