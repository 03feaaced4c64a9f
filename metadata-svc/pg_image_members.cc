// PgImageRepository's member calls (see image_rules.h for who may do what). Every change first
// locks the image row, so the member changes of one image are serialized: the member count
// that AddMember checks cannot change before it commits.
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "metadata-svc/enums.h"
#include "metadata-svc/image_rules.h"
#include "metadata-svc/pg_image_repository.h"
#include "metadata-svc/pg_image_tx.h"
#include "metadata-svc/pg_rows.h"
#include "metadata-svc/pg_statements.h"

namespace gaze::metadata {
namespace {

using Conn = pqxx::connection_base;

// The live members of `image_id`, or only `member_id` unless nullopt.
pqxx::result SelectMembers(pqxx::transaction_base& tx, const std::string& image_id,
                           const std::optional<std::string>& member_id) {
  return tx.exec_prepared(stmt::kListMembers, image_id, member_id);
}

}  // namespace

absl::StatusOr<v1::Member> PgImageRepository::AddMember(const v1::AddMemberRequest& request) {
  if (absl::Status s = ValidateMemberId(request.member_id()); !s.ok()) return s;
  return pool_.Run<v1::Member>([&](Conn& c) -> absl::StatusOr<v1::Member> {
    pqxx::work tx(c);
    auto image = LockVisible(tx, request.caller(), request.image_id());
    if (!image.ok()) return image.status();
    if (absl::Status s = CheckManagesMembers(request.caller(), *image, "create"); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckShared(*image); !s.ok()) return s;
    auto duplicate = [&] {
      return absl::AlreadyExistsError(
          absl::StrCat("Member ", request.member_id(), " is duplicated for image ", image->id()));
    };
    if (!SelectMembers(tx, image->id(), request.member_id()).empty()) return duplicate();
    int64_t count = tx.exec_prepared1(stmt::kCountMembers, image->id())[0].as<int64_t>();
    if (absl::Status s = CheckMemberLimit(image_limits_, count); !s.ok()) return s;
    pqxx::result r = tx.exec_prepared(stmt::kAddMember, image->id(), request.member_id());
    if (r.empty()) return duplicate();  // cannot happen while the image is locked
    v1::Member member;
    DecodeMember(r[0], &member);
    tx.commit();
    return member;
  });
}

absl::StatusOr<v1::ListMembersResponse> PgImageRepository::ListMembers(
    const v1::ListMembersRequest& request) {
  using Response = v1::ListMembersResponse;
  return pool_.Run<Response>([&](Conn& c) -> absl::StatusOr<Response> {
    pqxx::read_transaction tx(c);
    auto image = ReadVisible(tx, request.caller(), request.image_id());
    if (!image.ok()) return image.status();
    if (absl::Status s = CheckShared(*image); !s.ok()) return s;
    std::optional<std::string> only;
    if (!ManagesMembers(request.caller(), *image)) only = request.caller().project_id();
    Response response;
    for (const pqxx::row& row : SelectMembers(tx, image->id(), only)) {
      DecodeMember(row, response.add_members());
    }
    return response;
  });
}

absl::StatusOr<v1::Member> PgImageRepository::GetMember(const v1::GetMemberRequest& request) {
  return pool_.Run<v1::Member>([&](Conn& c) -> absl::StatusOr<v1::Member> {
    pqxx::read_transaction tx(c);
    auto image = ReadVisible(tx, request.caller(), request.image_id());
    if (!image.ok()) return image.status();
    // Anything but the owner, an admin or the member itself asking about a member of a shared
    // image is NOT_FOUND, as in Glance.
    auto not_found = [&] { return MemberNotFound(image->id(), request.member_id()); };
    if (!CheckShared(*image).ok()) return not_found();
    if (!ManagesMembers(request.caller(), *image) &&
        request.caller().project_id() != request.member_id()) {
      return not_found();
    }
    pqxx::result r = SelectMembers(tx, image->id(), request.member_id());
    if (r.empty()) return not_found();
    v1::Member member;
    DecodeMember(r[0], &member);
    return member;
  });
}

absl::StatusOr<v1::Member> PgImageRepository::UpdateMember(const v1::UpdateMemberRequest& request) {
  const char* status = MemberStatusName(request.status());
  if (status == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid member status: ", request.status()));
  }
  return pool_.Run<v1::Member>([&](Conn& c) -> absl::StatusOr<v1::Member> {
    pqxx::work tx(c);
    auto image = LockVisible(tx, request.caller(), request.image_id());
    if (!image.ok()) return image.status();
    if (absl::Status s = CheckShared(*image); !s.ok()) return s;
    if (absl::Status s = CheckMayUpdateMember(request.caller(), *image, request.member_id());
        !s.ok()) {
      return s;
    }
    pqxx::result r =
        tx.exec_prepared(stmt::kUpdateMember, image->id(), request.member_id(), status);
    if (r.empty()) return MemberNotFound(image->id(), request.member_id());
    v1::Member member;
    DecodeMember(r[0], &member);
    tx.commit();
    return member;
  });
}

absl::Status PgImageRepository::DeleteMember(const v1::DeleteMemberRequest& request) {
  return pool_.Run([&](Conn& c) -> absl::Status {
    pqxx::work tx(c);
    auto image = LockVisible(tx, request.caller(), request.image_id());
    if (!image.ok()) return image.status();
    if (absl::Status s = CheckManagesMembers(request.caller(), *image, "delete"); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckShared(*image); !s.ok()) return s;
    pqxx::result r = tx.exec_prepared(stmt::kDeleteMember, image->id(), request.member_id());
    if (r.empty()) return MemberNotFound(image->id(), request.member_id());
    tx.commit();
    return absl::OkStatus();
  });
}

}  // namespace gaze::metadata
