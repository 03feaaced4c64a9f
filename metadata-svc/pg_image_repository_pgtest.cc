// PgImageRepository against a real PostgreSQL: create/get/list/update/delete, the visibility
// matrix, pagination and the upload compare-and-set protocol.
#include <algorithm>
#include <atomic>
#include <pqxx/nontransaction>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "metadata-svc/common_tags.h"
#include "metadata-svc/testing/image_fixture.h"
#include "services/common/ids.h"

namespace gaze::metadata {
namespace {

using testing::Caller;
using testing::Same;

class ImageRepositoryTest : public testing::ImageFixture {};

TEST_F(ImageRepositoryTest, CreateThenGetReturnsEveryField) {
  v1::Image created = Create(Caller("p1"), [](v1::Image& i) {
    i.set_name("deb12");
    i.set_visibility(v1::VISIBILITY_PRIVATE);
    i.set_protected_(true);
    i.set_disk_format("qcow2");
    i.set_container_format("bare");
    i.set_min_ram(512);
    i.set_min_disk(2);
    i.add_tags("lts");
    i.add_tags("lts");
    (*i.mutable_properties())["os_distro"] = "debian";
  });
  EXPECT_TRUE(IsUuid(created.id()));
  EXPECT_EQ(created.status(), v1::IMAGE_STATUS_QUEUED);
  EXPECT_EQ(created.owner(), "p1");
  EXPECT_EQ(created.version(), 1);
  EXPECT_EQ(created.created_at().seconds(), created.updated_at().seconds());
  EXPECT_GT(created.created_at().seconds(), 1700000000);
  EXPECT_FALSE(created.has_size());
  auto got = Get(Caller("p1"), created.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(Same(*got, created)) << got->DebugString() << created.DebugString();
  EXPECT_EQ(got->name(), "deb12");
  EXPECT_TRUE(got->protected_());
  EXPECT_EQ(got->tags_size(), 1);
  EXPECT_EQ(got->properties().at("os_distro"), "debian");
  EXPECT_EQ(got->min_ram(), 512);
}

TEST_F(ImageRepositoryTest, IdsAreNeverReused) {
  const std::string id = NewUuid();
  Create(Caller("p1"), [&](v1::Image& i) { i.set_id(id); });
  v1::CreateImageRequest again;
  *again.mutable_caller() = Caller("p1");
  again.mutable_image()->set_id(id);
  auto dup = repo_->CreateImage(again);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.status().message(), "Image with identifier " + id + " already exists!");

  ASSERT_TRUE(Delete(Caller("p1"), id).ok());
  EXPECT_EQ(repo_->CreateImage(again).status().code(), absl::StatusCode::kAlreadyExists);
  // The tombstone is still there.
  EXPECT_EQ(Sql("SELECT status || ' ' || deleted FROM images WHERE id = '" + id + "'"),
            "deleted true");
}

TEST_F(ImageRepositoryTest, CreateRejectsInvalidInput) {
  v1::CreateImageRequest req;
  *req.mutable_caller() = Caller("p1");
  req.mutable_image()->set_id("12345");
  EXPECT_EQ(repo_->CreateImage(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.mutable_image()->clear_id();
  req.mutable_image()->set_min_ram(-1);
  EXPECT_EQ(repo_->CreateImage(req).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageRepositoryTest, VisibilityMatrix) {
  auto vis = [](v1::Visibility v) { return [v](v1::Image& i) { i.set_visibility(v); }; };
  std::string own_private = Create(Caller("p1"), vis(v1::VISIBILITY_PRIVATE)).id();
  std::string own_shared = Create(Caller("p1"), vis(v1::VISIBILITY_SHARED)).id();
  std::string other_private = Create(Caller("p2"), vis(v1::VISIBILITY_PRIVATE)).id();
  std::string other_shared = Create(Caller("p2"), vis(v1::VISIBILITY_SHARED)).id();
  std::string other_public = Create(Caller("p2"), vis(v1::VISIBILITY_PUBLIC)).id();
  std::string other_community = Create(Caller("p2"), vis(v1::VISIBILITY_COMMUNITY)).id();
  // An admin without a project creates an image without owner (legacy data).
  std::string ownerless = Create(Caller("", true), vis(v1::VISIBILITY_PRIVATE)).id();
  std::string deleted = Create(Caller("p1"), vis(v1::VISIBILITY_PUBLIC)).id();
  ASSERT_TRUE(Delete(Caller("p1"), deleted).ok());

  const v1::Caller p1 = Caller("p1"), admin = Caller("adm", true);
  for (const std::string& id :
       {own_private, own_shared, other_public, other_community, ownerless}) {
    EXPECT_TRUE(Get(p1, id).ok()) << id;
  }
  for (const std::string& id : {other_private, other_shared, deleted}) {
    auto r = Get(p1, id);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << id;
    EXPECT_EQ(r.status().message(), "No image found with ID " + id);
  }
  for (const std::string& id : {own_private, other_private, other_shared, ownerless}) {
    EXPECT_TRUE(Get(admin, id).ok()) << id;
  }
  EXPECT_EQ(Get(admin, deleted).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Get(p1, "not-a-uuid").status().code(), absl::StatusCode::kNotFound);

  using S = std::set<std::string>;
  auto filter = [](v1::VisibilityFilter f) {
    return [f](v1::ListImagesRequest& r) { r.mutable_filter()->set_visibility(f); };
  };
  EXPECT_EQ(ListIds(p1), (S{own_private, own_shared, other_public}));
  EXPECT_EQ(ListIds(p1, filter(v1::VISIBILITY_FILTER_ALL)),
            (S{own_private, own_shared, other_public, other_community, ownerless}));
  EXPECT_EQ(ListIds(p1, filter(v1::VISIBILITY_FILTER_PUBLIC)), (S{other_public}));
  EXPECT_EQ(ListIds(p1, filter(v1::VISIBILITY_FILTER_COMMUNITY)), (S{other_community}));
  EXPECT_EQ(ListIds(p1, filter(v1::VISIBILITY_FILTER_SHARED)), (S{own_shared}));
  EXPECT_EQ(ListIds(p1, filter(v1::VISIBILITY_FILTER_PRIVATE)), (S{own_private, ownerless}));
  EXPECT_EQ(ListIds(admin),
            (S{own_private, own_shared, other_private, other_shared, other_public, ownerless}));
  EXPECT_EQ(ListIds(admin, filter(v1::VISIBILITY_FILTER_ALL)),
            (S{own_private, own_shared, other_private, other_shared, other_public, other_community,
               ownerless}));
  EXPECT_EQ(ListIds(admin, filter(v1::VISIBILITY_FILTER_PRIVATE)),
            (S{own_private, other_private, ownerless}));

  // Mutations: invisible -> NOT_FOUND, visible but not owned -> PERMISSION_DENIED.
  EXPECT_EQ(Delete(p1, other_private).status().code(), absl::StatusCode::kNotFound);
  auto denied = Delete(p1, other_public);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().message(),
            "You are not permitted to modify image " + other_public + ".");
  EXPECT_EQ(Delete(p1, ownerless).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Delete(admin, ownerless).ok());
}

TEST_F(ImageRepositoryTest, ListFilters) {
  const v1::Caller p1 = Caller("p1");
  v1::Image a = Create(p1, [](v1::Image& i) {
    i.set_name("a");
    i.set_disk_format("qcow2");
    i.set_container_format("bare");
    i.add_tags("x");
    i.add_tags("y");
    (*i.mutable_properties())["os_distro"] = "debian";
    (*i.mutable_properties())["arch"] = "x86_64";
  });
  v1::Image b = Create(p1, [](v1::Image& i) {
    i.set_name("b");
    i.set_disk_format("raw");
    i.add_tags("x");
    i.set_protected_(true);
    (*i.mutable_properties())["os_distro"] = "ubuntu";
  });
  v1::Image hidden = Create(p1, [](v1::Image& i) {
    i.set_name("h");
    i.set_os_hidden(true);
  });
  v1::Image active = CreateActive(p1, 5000);
  v1::Image killed = Create(p1);
  Sql("UPDATE images SET status = 'killed' WHERE id = '" + killed.id() + "'");

  using S = std::set<std::string>;
  using R = v1::ListImagesRequest;
  EXPECT_EQ(ListIds(p1), (S{a.id(), b.id(), active.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->set_os_hidden(true); }), (S{hidden.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->set_os_hidden(false); }),
            (S{a.id(), b.id(), active.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->add_names("a"); }), (S{a.id()}));
  EXPECT_EQ(ListIds(p1,
                    [](R& r) {
                      r.mutable_filter()->add_names("a");
                      r.mutable_filter()->add_names("b");
                    }),
            (S{a.id(), b.id()}));
  EXPECT_EQ(ListIds(p1, [&](R& r) { r.mutable_filter()->add_ids(b.id()); }), (S{b.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->add_statuses(v1::IMAGE_STATUS_ACTIVE); }),
            (S{active.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->add_statuses(v1::IMAGE_STATUS_KILLED); }),
            (S{}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->add_disk_formats("qcow2"); }), (S{a.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->add_container_formats("bare"); }),
            (S{a.id(), active.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->add_tags("x"); }), (S{a.id(), b.id()}));
  EXPECT_EQ(ListIds(p1,
                    [](R& r) {
                      r.mutable_filter()->add_tags("x");
                      r.mutable_filter()->add_tags("y");
                    }),
            (S{a.id()}));
  EXPECT_EQ(
      ListIds(p1,
              [](R& r) { (*r.mutable_filter()->mutable_properties())["os_distro"] = "ubuntu"; }),
      (S{b.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->set_protected_(true); }), (S{b.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->set_size_min(5000); }), (S{active.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->set_size_max(4999); }), (S{}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->set_owner("p2"); }), (S{}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->set_owner("p1"); }),
            (S{a.id(), b.id(), active.id()}));

  // Every field comes back from the list query too.
  auto listed = List(p1, [&](R& r) { r.mutable_filter()->add_ids(active.id()); });
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->images_size(), 1);
  EXPECT_TRUE(Same(listed->images(0), active));
}

TEST_F(ImageRepositoryTest, ListFiltersOnDigestsMinimumsAndTimes) {
  const v1::Caller p1 = Caller("p1");
  v1::Image a = CreateActive(p1);
  v1::Image b = Create(p1, [](v1::Image& i) {
    i.set_min_ram(512);
    i.set_min_disk(20);
  });
  v1::Image c = Create(p1, [](v1::Image& i) { i.set_name(""); });
  Sql("UPDATE images SET checksum = 'other', os_hash_value = 'other' WHERE id = '" + b.id() + "'");
  auto set_times = [&](const v1::Image& img, const std::string& created,
                       const std::string& updated) {
    Sql("UPDATE images SET created_at = '" + created + "', updated_at = '" + updated +
        "' WHERE id = '" + img.id() + "'");
  };
  set_times(a, "2024-01-01 00:00:00+00", "2024-06-01 00:00:00.000001+00");
  set_times(b, "2025-01-01 00:00:00+00", "2025-01-02 00:00:00+00");
  set_times(c, "2026-01-01 00:00:00+00", "2026-01-01 00:00:00+00");

  using S = std::set<std::string>;
  using R = v1::ListImagesRequest;
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->set_checksum("md5"); }), (S{a.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->set_os_hash_value("other"); }), (S{b.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->set_min_ram(512); }), (S{b.id()}));
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->set_min_disk(0); }), (S{a.id(), c.id()}));
  // An empty name matches the empty name, not a missing one.
  EXPECT_EQ(ListIds(p1, [](R& r) { r.mutable_filter()->add_names(""); }), (S{c.id()}));

  auto at = [](R& r, bool created, v1::ComparisonOp op, int64_t seconds, int32_t nanos = 0) {
    v1::TimeCondition* t =
        created ? r.mutable_filter()->add_created_at() : r.mutable_filter()->add_updated_at();
    t->set_op(op);
    t->mutable_value()->set_seconds(seconds);
    t->mutable_value()->set_nanos(nanos);
  };
  constexpr int64_t k2025 = 1735689600, k2024_06 = 1717200000;
  EXPECT_EQ(ListIds(p1, [&](R& r) { at(r, true, v1::COMPARISON_OP_GTE, k2025); }),
            (S{b.id(), c.id()}));
  EXPECT_EQ(ListIds(p1, [&](R& r) { at(r, true, v1::COMPARISON_OP_GT, k2025); }), (S{c.id()}));
  EXPECT_EQ(ListIds(p1, [&](R& r) { at(r, true, v1::COMPARISON_OP_EQ, k2025); }), (S{b.id()}));
  EXPECT_EQ(ListIds(p1, [&](R& r) { at(r, true, v1::COMPARISON_OP_NEQ, k2025); }),
            (S{a.id(), c.id()}));
  EXPECT_EQ(ListIds(p1,
                    [&](R& r) {
                      at(r, true, v1::COMPARISON_OP_GT, k2025 - 1);
                      at(r, true, v1::COMPARISON_OP_LTE, k2025);
                      at(r, false, v1::COMPARISON_OP_LT, k2025 + 2 * 86400);
                    }),
            (S{b.id()}));
  // Whole seconds count, as images show them: a.updated_at is one microsecond past the
  // second k2024_06 and still equals it; a time with a fraction lies between two seconds.
  EXPECT_EQ(ListIds(p1, [&](R& r) { at(r, false, v1::COMPARISON_OP_EQ, k2024_06); }), (S{a.id()}));
  EXPECT_EQ(ListIds(p1, [&](R& r) { at(r, false, v1::COMPARISON_OP_LTE, k2024_06); }), (S{a.id()}));
  EXPECT_EQ(ListIds(p1, [&](R& r) { at(r, false, v1::COMPARISON_OP_GT, k2024_06); }),
            (S{b.id(), c.id()}));
  EXPECT_EQ(ListIds(p1, [&](R& r) { at(r, false, v1::COMPARISON_OP_EQ, k2024_06, 1000); }), (S{}));
  EXPECT_EQ(ListIds(p1, [&](R& r) { at(r, false, v1::COMPARISON_OP_LT, k2024_06, 1000); }),
            (S{a.id()}));
  EXPECT_EQ(ListIds(p1, [&](R& r) { at(r, false, v1::COMPARISON_OP_GTE, k2024_06, 1000); }),
            (S{b.id(), c.id()}));

  auto bad = List(p1, [&](R& r) { at(r, true, v1::COMPARISON_OP_UNSPECIFIED, k2025); });
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

// Pages through the whole list with `limit` and compares with one big page.
class PaginationTest : public ImageRepositoryTest {
 protected:
  void SetUp() override {
    ImageRepositoryTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // Names with NULLs and duplicates, sizes with NULLs and duplicates.
    const std::vector<std::optional<std::string>> names = {"b", std::nullopt, "a", "b",
                                                           "c", std::nullopt, "a"};
    const std::vector<std::optional<int64_t>> sizes = {10, 20, std::nullopt, 10,
                                                       30, 20, std::nullopt};
    for (size_t n = 0; n < names.size(); ++n) {
      v1::Image img = Create(Caller("p1"), [&](v1::Image& i) {
        if (names[n]) i.set_name(*names[n]);
        i.set_disk_format(n % 2 ? "raw" : "qcow2");
      });
      if (sizes[n]) {
        Sql("UPDATE images SET size = " + std::to_string(*sizes[n]) + " WHERE id = '" + img.id() +
            "'");
      }
    }
  }

  std::vector<std::string> All(const std::vector<std::pair<v1::SortField, bool>>& sort) {
    auto r = List(Caller("p1"), [&](v1::ListImagesRequest& req) { SetSort(req, sort); });
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> ids;
    for (const auto& img : r->images()) ids.push_back(img.id());
    return ids;
  }

  std::vector<std::string> Paged(const std::vector<std::pair<v1::SortField, bool>>& sort,
                                 int limit) {
    std::vector<std::string> ids;
    std::string marker;
    for (int page = 0; page < 20; ++page) {
      auto r = List(Caller("p1"), [&](v1::ListImagesRequest& req) {
        SetSort(req, sort);
        req.set_limit(limit);
        req.set_marker(marker);
      });
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      for (const auto& img : r->images()) ids.push_back(img.id());
      EXPECT_EQ(r->page_full(), r->images_size() == limit);
      if (!r->page_full()) break;
      marker = r->images(r->images_size() - 1).id();
    }
    return ids;
  }

  static void SetSort(v1::ListImagesRequest& req,
                      const std::vector<std::pair<v1::SortField, bool>>& sort) {
    for (const auto& [field, desc] : sort) {
      v1::SortKey* k = req.add_sort();
      k->set_field(field);
      k->set_descending(desc);
    }
  }
};

TEST_F(PaginationTest, PagesMatchTheFullListForEverySortOrder) {
  const std::vector<std::vector<std::pair<v1::SortField, bool>>> orders = {
      {},
      {{v1::SORT_FIELD_NAME, false}},
      {{v1::SORT_FIELD_NAME, true}},
      {{v1::SORT_FIELD_NAME, false}, {v1::SORT_FIELD_SIZE, true}},
      {{v1::SORT_FIELD_SIZE, true}, {v1::SORT_FIELD_NAME, false}, {v1::SORT_FIELD_ID, true}},
      {{v1::SORT_FIELD_DISK_FORMAT, false}, {v1::SORT_FIELD_CREATED_AT, true}},
      {{v1::SORT_FIELD_STATUS, false}, {v1::SORT_FIELD_UPDATED_AT, false}},
  };
  for (const auto& order : orders) {
    std::vector<std::string> all = All(order);
    ASSERT_EQ(all.size(), 7u);
    for (int limit : {1, 2, 3, 7}) {
      EXPECT_EQ(Paged(order, limit), all)
          << "order #" << (&order - &orders[0]) << " limit " << limit;
    }
  }
}

TEST_F(PaginationTest, NullsSortAsTheSmallestValue) {
  auto r = List(Caller("p1"), [](v1::ListImagesRequest& req) {
    SetSort(req, {{v1::SORT_FIELD_NAME, false}, {v1::SORT_FIELD_SIZE, false}});
  });
  ASSERT_TRUE(r.ok());
  std::vector<std::string> seen;
  for (const auto& img : r->images()) {
    seen.push_back((img.has_name() ? img.name() : "-") + "/" +
                   (img.has_size() ? std::to_string(img.size()) : "-"));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"-/20", "-/20", "a/-", "a/-", "b/10", "b/10", "c/30"}));
}

TEST_F(PaginationTest, MarkerErrors) {
  auto with_marker = [&](const v1::Caller& caller, const std::string& marker) {
    return List(caller, [&](v1::ListImagesRequest& r) { r.set_marker(marker); }).status();
  };
  absl::Status s = with_marker(Caller("p1"), NewUuid());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "marker not found");
  EXPECT_EQ(with_marker(Caller("p1"), "garbage").code(), absl::StatusCode::kInvalidArgument);
  v1::Image other =
      Create(Caller("p2"), [](v1::Image& i) { i.set_visibility(v1::VISIBILITY_PRIVATE); });
  EXPECT_EQ(with_marker(Caller("p1"), other.id()).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(with_marker(Caller("p2"), other.id()).ok());
  ASSERT_TRUE(Delete(Caller("p2"), other.id()).ok());
  EXPECT_EQ(with_marker(Caller("p2"), other.id()).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageRepositoryTest, UpdateAppliesMaskPropertiesAndVersion) {
  v1::Image img = Create(Caller("p1"), [](v1::Image& i) {
    i.set_name("old");
    (*i.mutable_properties())["a"] = "1";
    (*i.mutable_properties())["b"] = "2";
  });
  v1::UpdateImageRequest req;
  *req.mutable_caller() = Caller("p1");
  req.set_id(img.id());
  req.mutable_update_mask()->add_paths("name");
  req.mutable_update_mask()->add_paths("tags");
  req.mutable_image()->set_name("new");
  req.mutable_image()->add_tags("t1");
  (*req.mutable_set_properties())["c"] = "3";
  (*req.mutable_set_properties())["a"] = "9";
  req.add_remove_properties("b");
  req.set_expected_version(1);
  auto updated = repo_->UpdateImage(req);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->name(), "new");
  EXPECT_EQ(updated->version(), 2);
  EXPECT_EQ(updated->tags_size(), 1);
  EXPECT_EQ(updated->properties().size(), 2u);
  EXPECT_EQ(updated->properties().at("a"), "9");
  EXPECT_EQ(updated->properties().at("c"), "3");
  EXPECT_GE(updated->updated_at().seconds(), img.updated_at().seconds());
  EXPECT_TRUE(Same(*Get(Caller("p1"), img.id()), *updated));

  // The same expected_version again is stale now.
  EXPECT_EQ(repo_->UpdateImage(req).status().code(), absl::StatusCode::kAborted);

  v1::UpdateImageRequest bad;
  *bad.mutable_caller() = Caller("p1");
  bad.set_id(img.id());
  bad.mutable_update_mask()->add_paths("size");
  EXPECT_EQ(repo_->UpdateImage(bad).status().code(), absl::StatusCode::kInvalidArgument);

  v1::UpdateImageRequest other = req;
  other.set_expected_version(0);
  *other.mutable_caller() = Caller("p2");
  EXPECT_EQ(repo_->UpdateImage(other).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImageRepositoryTest, FormatsAreFrozenOnceActive) {
  v1::Image img = CreateActive(Caller("p1"));
  v1::UpdateImageRequest req;
  *req.mutable_caller() = Caller("p1");
  req.set_id(img.id());
  req.mutable_update_mask()->add_paths("disk_format");
  req.mutable_image()->set_disk_format("qcow2");
  EXPECT_EQ(repo_->UpdateImage(req).status().code(), absl::StatusCode::kPermissionDenied);
  req.mutable_update_mask()->clear_paths();
  req.mutable_update_mask()->add_paths("min_ram");
  req.mutable_image()->set_min_ram(-4);
  EXPECT_EQ(repo_->UpdateImage(req).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageRepositoryTest, DeleteTombstonesAndQueuesDataRemoval) {
  v1::Image bare = Create(Caller("p1"));
  auto r = Delete(Caller("p1"), bare.id());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->task_id(), "");  // no bytes, no task
  EXPECT_EQ(Get(Caller("p1"), bare.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Delete(Caller("p1"), bare.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(Sql("SELECT deleted_at FROM images WHERE id = '" + bare.id() + "'"), "");

  v1::Image active = CreateActive(Caller("p1"));
  r = Delete(Caller("p1"), active.id(), "req-42");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(IsUuid(r->task_id()));
  EXPECT_EQ(
      Sql("SELECT type || ' ' || status || ' ' || request_id || ' ' || image_id || ' ' || "
          "(input->'urls')::text FROM tasks WHERE id = '" +
          r->task_id() + "'"),
      "delete_data pending req-42 " + active.id() + " [\"file:///data/" + active.id() + "\"]");
  EXPECT_EQ(
      Sql("SELECT type || ' ' || request_id FROM outbox WHERE task_id = '" + r->task_id() + "'"),
      "delete_data req-42");

  v1::Image guarded = Create(Caller("p1"), [](v1::Image& i) { i.set_protected_(true); });
  auto denied = Delete(Caller("p1"), guarded.id());
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().message(),
            "Image " + guarded.id() + " is protected and cannot be deleted.");
}

TEST_F(ImageRepositoryTest, UploadCompareAndSetProtocol) {
  const v1::Caller p1 = Caller("p1");
  v1::Image img = Create(p1);
  auto begun = Begin(p1, img.id(), "u1");
  EXPECT_EQ(begun.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(begun.status().message(),
            "Properties disk_format, container_format must be set prior to saving data.");

  img = CreateActive(p1);  // begin + complete
  EXPECT_EQ(img.status(), v1::IMAGE_STATUS_ACTIVE);
  EXPECT_EQ(img.size(), 1024);
  EXPECT_EQ(img.virtual_size(), 4096);
  EXPECT_EQ(img.checksum(), "md5");
  EXPECT_EQ(img.os_hash_value(), "sha");
  ASSERT_EQ(img.locations_size(), 1);
  EXPECT_EQ(img.locations(0).metadata().at("store"), "file");
  EXPECT_EQ(Sql("SELECT count(*) FROM images WHERE upload_id IS NOT NULL"), "0");
  begun = Begin(p1, img.id(), "u2");
  EXPECT_EQ(begun.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(begun.status().message(),
            "Image status transition from active to saving is not allowed");

  v1::Image q = Create(p1, [](v1::Image& i) {
    i.set_disk_format("raw");
    i.set_container_format("bare");
  });
  begun = Begin(p1, q.id(), "u1");
  ASSERT_TRUE(begun.ok()) << begun.status();
  EXPECT_EQ(begun->image().status(), v1::IMAGE_STATUS_SAVING);
  EXPECT_GE(begun->lease_expires_at().seconds(), begun->image().updated_at().seconds() + 59);
  EXPECT_EQ(Begin(p1, q.id(), "u2").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Begin(Caller("p2"), q.id(), "u3").status().code(), absl::StatusCode::kNotFound);

  v1::RenewUploadRequest renew;
  renew.set_id(q.id());
  renew.set_upload_id("u2");
  renew.set_lease_seconds(120);
  EXPECT_EQ(repo_->RenewUpload(renew).status().code(), absl::StatusCode::kFailedPrecondition);
  renew.set_upload_id("u1");
  auto renewed = repo_->RenewUpload(renew);
  ASSERT_TRUE(renewed.ok());
  EXPECT_GT(renewed->lease_expires_at().seconds(), begun->lease_expires_at().seconds());

  EXPECT_EQ(Complete(q.id(), "u2").status().code(), absl::StatusCode::kFailedPrecondition);

  v1::AbortUploadRequest abort;
  abort.set_id(q.id());
  abort.set_upload_id("u1");
  EXPECT_EQ(repo_->AbortUpload(abort).value(), true);
  EXPECT_EQ(repo_->AbortUpload(abort).value(), false);  // idempotent
  auto after = Get(p1, q.id());
  EXPECT_EQ(after->status(), v1::IMAGE_STATUS_QUEUED);
  EXPECT_FALSE(after->has_size());
  EXPECT_EQ(Complete(q.id(), "u1").status().code(), absl::StatusCode::kFailedPrecondition);
  // Queued again: a new upload may start.
  EXPECT_TRUE(Begin(p1, q.id(), "u4").ok());
}

TEST_F(ImageRepositoryTest, DeleteDuringUploadLeavesTheObjectToTheUploader) {
  const v1::Caller p1 = Caller("p1");
  v1::Image img = Create(p1, [](v1::Image& i) {
    i.set_disk_format("raw");
    i.set_container_format("bare");
  });
  ASSERT_TRUE(Begin(p1, img.id(), "u1").ok());
  auto deleted = Delete(p1, img.id());
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->task_id(), "");
  EXPECT_EQ(Sql("SELECT upload_id FROM images WHERE id = '" + img.id() + "'"), "u1");

  auto done = Complete(img.id(), "u1");
  EXPECT_EQ(done.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(done.status().message(),
            "Image " + img.id() +
                " could not be found after upload. The image may have been deleted during the "
                "upload.");
  v1::AbortUploadRequest abort;
  abort.set_id(img.id());
  abort.set_upload_id("u1");
  EXPECT_EQ(repo_->AbortUpload(abort).value(), true);
  EXPECT_EQ(
      Sql("SELECT status || ' ' || (upload_id IS NULL) FROM images WHERE id = '" + img.id() + "'"),
      "deleted true");
}

TEST_F(ImageRepositoryTest, SweeperReleasesExpiredUploads) {
  const v1::Caller p1 = Caller("p1");
  auto formats = [](v1::Image& i) {
    i.set_disk_format("raw");
    i.set_container_format("bare");
  };
  v1::Image expired = Create(p1, formats);
  v1::Image live = Create(p1, formats);
  v1::Image gone = Create(p1, formats);
  ASSERT_TRUE(Begin(p1, expired.id(), "u1").ok());
  ASSERT_TRUE(Begin(p1, live.id(), "u2").ok());
  ASSERT_TRUE(Begin(p1, gone.id(), "u3").ok());
  ASSERT_TRUE(Delete(p1, gone.id()).ok());
  Sql("UPDATE images SET upload_expires_at = now() - interval '1 second' WHERE id IN ('" +
      expired.id() + "', '" + gone.id() + "')");

  auto released = repo_->SweepExpiredUploads(100);
  ASSERT_TRUE(released.ok()) << released.status();
  ASSERT_EQ(released->size(), 2u);
  for (const ReleasedUpload& u : *released) {
    EXPECT_TRUE(IsUuid(u.task_id));
    EXPECT_EQ(u.holder, "gw-1");
    EXPECT_EQ(u.object_url, "file:///data/" + u.image_id + "." + u.upload_id);
    EXPECT_EQ(u.status_after, u.image_id == gone.id() ? "deleted" : "queued");
    EXPECT_EQ(Sql("SELECT (input->'urls'->>0) || ' ' || status FROM tasks WHERE id = '" +
                  u.task_id + "'"),
              u.object_url + " pending");
    EXPECT_EQ(Sql("SELECT count(*) FROM outbox WHERE task_id = '" + u.task_id + "'"), "1");
  }
  auto img = Get(p1, expired.id());
  EXPECT_EQ(img->status(), v1::IMAGE_STATUS_QUEUED);
  EXPECT_EQ(Sql("SELECT count(*) FROM images WHERE upload_id IS NOT NULL"), "1");  // live
  EXPECT_EQ(repo_->SweepExpiredUploads(100)->size(), 0u);
  // The uploader that lost its lease can no longer complete.
  EXPECT_EQ(Complete(expired.id(), "u1").status().code(), absl::StatusCode::kFailedPrecondition);
}

// A tag PostgreSQL's statistics call common is listed on a cached plan that walks the list in
// order; a rare one on a per-call plan. Both must list the same images as any other filter.
TEST_F(ImageRepositoryTest, CommonAndRareTagsListTheSameWay) {
  const v1::Caller p1 = Caller("p1");
  std::vector<std::string> common;  // newest first, as listed
  for (int n = 0; n < 40; ++n) {
    common.insert(common.begin(), Create(p1, [](v1::Image& i) { i.add_tags("common"); }).id());
  }
  const std::string rare = Create(p1, [](v1::Image& i) {
                             i.add_tags("rare");
                             i.add_tags("common");
                           }).id();
  common.insert(common.begin(), rare);
  Sql("ANALYZE images");
  CommonTags tags;
  ASSERT_TRUE(pool_
                  ->Run([&](pqxx::connection_base& c) {
                    pqxx::nontransaction tx(c);
                    EXPECT_TRUE(tags.IsCommon(tx, "common"));
                    EXPECT_FALSE(tags.IsCommon(tx, "rare"));
                    return absl::OkStatus();
                  })
                  .ok());
  std::vector<std::string> listed;
  std::string marker;
  do {
    auto page = List(p1, [&](v1::ListImagesRequest& r) {
      r.mutable_filter()->add_tags("common");
      r.set_limit(7);
      r.set_marker(marker);
    });
    ASSERT_TRUE(page.ok()) << page.status();
    for (const v1::Image& i : page->images()) listed.push_back(i.id());
    marker = page->images().empty() ? "" : page->images().rbegin()->id();
    if (!page->page_full()) break;
  } while (true);
  EXPECT_EQ(listed, common);
  EXPECT_EQ(ListIds(p1, [](v1::ListImagesRequest& r) { r.mutable_filter()->add_tags("rare"); }),
            std::set<std::string>{rare});
  EXPECT_TRUE(ListIds(Caller("p2"), [](v1::ListImagesRequest& r) {
                r.mutable_filter()->add_tags("common");
              }).empty());
}

// Updates read without a lock and write with a compare-and-set on version; one that loses
// the race is applied again under the row lock. None may be lost or refused.
TEST_F(ImageRepositoryTest, ConcurrentUpdatesOfOneImageAllApply) {
  const v1::Image img = Create(Caller("p1"), [](v1::Image&) {});
  constexpr int kThreads = 4, kUpdates = 10;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < kUpdates; ++n) {
        v1::UpdateImageRequest req;
        *req.mutable_caller() = Caller("p1");
        req.set_id(img.id());
        (*req.mutable_set_properties())[absl::StrCat("k", t, "_", n)] = "v";
        if (!repo_->UpdateImage(req).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = Get(Caller("p1"), img.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->properties().size(), static_cast<size_t>(kThreads * kUpdates));
  EXPECT_EQ(got->version(), 1 + kThreads * kUpdates);
}

TEST_F(ImageRepositoryTest, ConcurrentSweepersReleaseEachUploadOnce) {
  const v1::Caller p1 = Caller("p1");
  for (int n = 0; n < 20; ++n) {
    v1::Image img = Create(p1, [](v1::Image& i) {
      i.set_disk_format("raw");
      i.set_container_format("bare");
    });
    ASSERT_TRUE(Begin(p1, img.id(), "u").ok());
  }
  Sql("UPDATE images SET upload_expires_at = now() - interval '1 second'");
  std::vector<ReleasedUpload> a, b;
  std::thread t1([&] {
    for (int i = 0; i < 20; ++i) {
      auto r = repo_->SweepExpiredUploads(3);
      if (r.ok()) a.insert(a.end(), r->begin(), r->end());
    }
  });
  std::thread t2([&] {
    for (int i = 0; i < 20; ++i) {
      auto r = repo_->SweepExpiredUploads(3);
      if (r.ok()) b.insert(b.end(), r->begin(), r->end());
    }
  });
  t1.join();
  t2.join();
  std::set<std::string> ids;
  for (const auto& u : a) ids.insert(u.image_id);
  for (const auto& u : b) ids.insert(u.image_id);
  EXPECT_EQ(a.size() + b.size(), 20u);
  EXPECT_EQ(ids.size(), 20u);
  EXPECT_EQ(Sql("SELECT count(*) FROM tasks"), "20");
}

}  // namespace
}  // namespace gaze::metadata
