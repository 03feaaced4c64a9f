// jsonb <-> proto conversions with nlohmann::json (kept out of the header), and a scanner that
// decodes the common flat shapes of the image columns without building a DOM.
#include "metadata-svc/json_codec.h"

#include <cstdint>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "metadata-svc/enums.h"

namespace gaze::metadata {
namespace {

using nlohmann::json;

// Proto strings are valid UTF-8, so `replace` never fires for API input; it keeps a stray
// byte from turning into an exception.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

absl::Status Parse(std::string_view text, json* out) {
  *out = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    return absl::InternalError(
        absl::StrCat("stored JSON does not parse: ", absl::string_view(text.data(), text.size())));
  }
  return absl::OkStatus();
}

std::string AsString(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return Dump(v);
}

json MapToJson(const StringMap& map) {
  json j = json::object();
  for (const auto& [k, v] : map) j[k] = v;
  return j;
}

absl::Status MapFromJson(const json& j, StringMap* out) {
  if (!j.is_object()) return absl::InternalError("stored JSON is not an object");
  for (const auto& [k, v] : j.items()) (*out)[k] = AsString(v);
  return absl::OkStatus();
}

// Reads the flat JSON that PostgreSQL prints for most image rows (properties::text is
// {"k": "v", ...}, to_json(tags) is ["a", "b"], locations::text is []) straight into the proto,
// with none of the allocations of an nlohmann DOM. Each method returns false, not an error, on
// anything else (other values, nesting, malformed JSON), for the nlohmann path to handle: so it
// must accept only texts that nlohmann parses to the same strings, e.g. reject invalid UTF-8 and
// lone surrogates as nlohmann does.
class FlatJsonScanner {
 public:
  explicit FlatJsonScanner(std::string_view text)
      : p_(text.data()), end_(text.data() + text.size()) {}

  // Skips whitespace; consumes `c` if it comes next.
  bool Consume(char c) {
    SkipWhitespace();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  // Skips whitespace; true if nothing else is left.
  bool AtEnd() {
    SkipWhitespace();
    return p_ == end_;
  }

  // Skips whitespace and reads a string literal, decoded into `*out` unless `out` is null.
  bool String(std::string* out) {
    if (!Consume('"')) return false;
    if (out != nullptr) out->clear();
    const char* run = p_;  // the bytes not yet appended to `*out`, which need no decoding
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"' || c == '\\') {
        if (out != nullptr) out->append(run, p_);
        ++p_;
        if (c == '"') return true;
        if (!Escape(out)) return false;
        run = p_;
      } else if (c < 0x20) {
        return false;  // control characters must be escaped
      } else if (c < 0x80) {
        ++p_;
      } else {
        const size_t n = Utf8SequenceLength();
        if (n == 0) return false;
        p_ += n;
      }
    }
    return false;  // unterminated
  }

 private:
  void SkipWhitespace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  // After a backslash.
  bool Escape(std::string* out) {
    if (p_ == end_) return false;
    const char c = *p_++;
    if (c == 'u') return UnicodeEscape(out);
    // Every other escape stands for the character at the same index in kDecoded.
    static constexpr std::string_view kEscapes = "\"\\/bfnrt";
    static constexpr std::string_view kDecoded = "\"\\/\b\f\n\r\t";
    const size_t i = kEscapes.find(c);
    if (i == std::string_view::npos) return false;
    if (out != nullptr) out->push_back(kDecoded[i]);
    return true;
  }

  // After "\u": a code point, or a UTF-16 surrogate pair "\uD8xx\uDCxx" for one beyond U+FFFF.
  bool UnicodeEscape(std::string* out) {
    uint32_t code_point;
    if (!Hex4(&code_point) || (code_point >= 0xDC00 && code_point <= 0xDFFF)) return false;
    if (code_point >= 0xD800 && code_point <= 0xDBFF) {
      uint32_t low;
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
      p_ += 2;
      if (!Hex4(&low) || low < 0xDC00 || low > 0xDFFF) return false;
      code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
    }
    if (out != nullptr) AppendUtf8(code_point, out);
    return true;
  }

  bool Hex4(uint32_t* value) {
    if (end_ - p_ < 4) return false;
    *value = 0;
    for (const char* stop = p_ + 4; p_ != stop; ++p_) {
      const char c = *p_;
      uint32_t digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return false;
      }
      *value = *value << 4 | digit;
    }
    return true;
  }

  static void AppendUtf8(uint32_t code_point, std::string* out) {
    if (code_point < 0x80) {
      out->push_back(static_cast<char>(code_point));
      return;
    }
    const int continuations = code_point < 0x800 ? 1 : code_point < 0x10000 ? 2 : 3;
    const uint32_t lead = continuations == 1 ? 0xC0 : continuations == 2 ? 0xE0 : 0xF0;
    out->push_back(static_cast<char>(lead | code_point >> (6 * continuations)));
    for (int i = continuations - 1; i >= 0; --i) {
      out->push_back(static_cast<char>(0x80 | ((code_point >> (6 * i)) & 0x3F)));
    }
  }

  // The length of the well-formed UTF-8 sequence at p_ (RFC 3629, as nlohmann checks it: no
  // overlong forms, surrogates or code points beyond U+10FFFF), or 0.
  size_t Utf8SequenceLength() const {
    const auto* b = reinterpret_cast<const unsigned char*>(p_);
    size_t n;
    unsigned char second_min = 0x80, second_max = 0xBF;
    if (b[0] >= 0xC2 && b[0] <= 0xDF) {
      n = 2;
    } else if (b[0] >= 0xE0 && b[0] <= 0xEF) {
      n = 3;
      if (b[0] == 0xE0) second_min = 0xA0;
      if (b[0] == 0xED) second_max = 0x9F;
    } else if (b[0] >= 0xF0 && b[0] <= 0xF4) {
      n = 4;
      if (b[0] == 0xF0) second_min = 0x90;
      if (b[0] == 0xF4) second_max = 0x8F;
    } else {
      return 0;
    }
    if (static_cast<size_t>(end_ - p_) < n || b[1] < second_min || b[1] > second_max) return 0;
    for (size_t i = 2; i < n; ++i) {
      if ((b[i] & 0xC0) != 0x80) return 0;
    }
    return n;
  }

  const char* p_;
  const char* end_;
};

// Scans `text` as `open` [element {"," element}] `close`, with only whitespace around, calling
// `element(scanner, write)` for each element. Scans twice, first with write=false to check the
// whole text, so that a text the scanner does not take leaves the output untouched for the
// nlohmann path, then with write=true to decode into the output (which cannot fail then).
template <typename Element>
bool ScanFlat(std::string_view text, char open, char close, Element element) {
  for (const bool write : {false, true}) {
    FlatJsonScanner scanner(text);
    if (!scanner.Consume(open)) return false;
    if (!scanner.Consume(close)) {
      do {
        if (!element(scanner, write)) return false;
      } while (scanner.Consume(','));
      if (!scanner.Consume(close)) return false;
    }
    if (!scanner.AtEnd()) return false;
  }
  return true;
}

// {"k": "v", ...}: an object of strings only.
bool ScanStringMap(std::string_view text, StringMap* out) {
  std::string key;
  return ScanFlat(text, '{', '}', [&](FlatJsonScanner& scanner, bool write) {
    return scanner.String(write ? &key : nullptr) && scanner.Consume(':') &&
           scanner.String(write ? &(*out)[key] : nullptr);
  });
}

}  // namespace

std::string PropertiesToJson(const StringMap& properties) { return Dump(MapToJson(properties)); }

absl::Status PropertiesFromJson(std::string_view text, StringMap* out) {
  if (ScanStringMap(text, out)) return absl::OkStatus();
  json j;
  if (absl::Status s = Parse(text, &j); !s.ok()) return s;
  return MapFromJson(j, out);
}

std::string LocationToJson(const v1::Location& location) {
  return Dump(json{{"url", location.url()}, {"metadata", MapToJson(location.metadata())}});
}

absl::Status LocationsFromJson(std::string_view text,
                               google::protobuf::RepeatedPtrField<v1::Location>* out) {
  // Only [] (an image without data) takes the fast path; locations themselves go to nlohmann.
  if (ScanFlat(text, '[', ']', [](FlatJsonScanner&, bool) { return false; })) {
    return absl::OkStatus();
  }
  json j;
  if (absl::Status s = Parse(text, &j); !s.ok()) return s;
  if (!j.is_array()) return absl::InternalError("stored locations are not an array");
  for (const json& item : j) {
    if (!item.is_object()) return absl::InternalError("stored location is not an object");
    v1::Location* loc = out->Add();
    if (auto url = item.find("url"); url != item.end()) loc->set_url(AsString(*url));
    if (auto md = item.find("metadata"); md != item.end() && !md->is_null()) {
      if (absl::Status s = MapFromJson(*md, loc->mutable_metadata()); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status StringsFromJson(std::string_view text,
                             google::protobuf::RepeatedPtrField<std::string>* out) {
  if (ScanFlat(text, '[', ']', [&](FlatJsonScanner& scanner, bool write) {
        return scanner.String(write ? out->Add() : nullptr);
      })) {
    return absl::OkStatus();
  }
  json j;
  if (absl::Status s = Parse(text, &j); !s.ok()) return s;
  if (!j.is_array()) return absl::InternalError("stored JSON is not an array");
  for (const json& item : j) out->Add(AsString(item));
  return absl::OkStatus();
}

std::string DeleteDataInputToJson(const v1::DeleteDataInput& input) {
  json urls = json::array();
  for (const std::string& url : input.urls()) urls.push_back(url);
  return Dump(json{{"urls", urls}});
}

absl::Status DeleteDataInputFromJson(std::string_view text, v1::DeleteDataInput* out) {
  json j;
  if (absl::Status s = Parse(text, &j); !s.ok()) return s;
  auto urls = j.find("urls");
  if (!j.is_object() || urls == j.end() || !urls->is_array()) {
    return absl::InternalError("delete_data task input has no \"urls\" array");
  }
  for (const json& url : *urls) out->add_urls(AsString(url));
  return absl::OkStatus();
}

std::string ImportInputToJson(const v1::ImportInput& input) {
  const char* method = ImportMethodName(input.method());
  return Dump(json{{"method", method != nullptr ? method : ""},
                   {"uri", input.uri()},
                   {"staging_url", input.staging_url()},
                   {"disk_format", input.disk_format()},
                   {"container_format", input.container_format()}});
}

absl::Status ImportInputFromJson(std::string_view text, v1::ImportInput* out) {
  json j;
  if (absl::Status s = Parse(text, &j); !s.ok()) return s;
  if (!j.is_object()) return absl::InternalError("import task input is not an object");
  auto text_of = [&](const char* key) {
    auto it = j.find(key);
    return it == j.end() ? std::string() : AsString(*it);
  };
  out->set_method(ParseImportMethod(text_of("method")));
  out->set_uri(text_of("uri"));
  out->set_staging_url(text_of("staging_url"));
  out->set_disk_format(text_of("disk_format"));
  out->set_container_format(text_of("container_format"));
  return absl::OkStatus();
}

absl::Status ValidateJsonObject(std::string_view text, std::string_view what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(absl::string_view(what.data(), what.size()), " must be a JSON object"));
  }
  return absl::OkStatus();
}

}  // namespace gaze::metadata
