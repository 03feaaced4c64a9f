#include "services/store/file_store.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace gaze::store {
namespace {

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gaze-store-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = FileStore::InDirectory(dir_ + "/data");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  size_t FileCount() const {
    size_t n = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(store_->data_dir())) ++n;
    return n;
  }

  std::string dir_;
  std::unique_ptr<FileStore> store_;
};

TEST_F(FileStoreTest, WriteCommitOpenDelete) {
  std::string url = store_->UrlFor("img", "up1");
  EXPECT_EQ(url, "file://" + dir_ + "/data/img.up1");
  auto writer = store_->Create(url);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Write("hello ", 6).ok());
  ASSERT_TRUE((*writer)->Write("world", 5).ok());
  EXPECT_FALSE(store_->Open(url).ok()) << "object visible before commit";
  ASSERT_TRUE((*writer)->Commit().ok());
  writer->reset();

  auto obj = store_->Open(url);
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(obj->size(), 11u);
  char buf[16] = {};
  ASSERT_EQ(pread(obj->fd(), buf, sizeof buf, 0), 11);
  EXPECT_STREQ(buf, "hello world");

  ASSERT_TRUE(store_->Delete(url).ok());
  EXPECT_EQ(store_->Open(url).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Delete(url).ok()) << "deleting twice must succeed";
  EXPECT_EQ(FileCount(), 0u);
}

TEST_F(FileStoreTest, AbandonedWriterLeavesNothing) {
  std::string url = store_->UrlFor("img", "up2");
  {
    auto writer = store_->Create(url);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write("partial", 7).ok());
    EXPECT_EQ(FileCount(), 1u);
  }
  EXPECT_EQ(FileCount(), 0u);
}

TEST_F(FileStoreTest, DeleteRemovesLeftoverTemporary) {
  std::string url = store_->UrlFor("img", "up3");
  std::ofstream(store_->data_dir() + "/img.up3.part") << "left by a crashed uploader";
  ASSERT_EQ(FileCount(), 1u);
  ASSERT_TRUE(store_->Delete(url).ok());
  EXPECT_EQ(FileCount(), 0u);
}

TEST_F(FileStoreTest, SecondWriterOfSameUrlIsRefused) {
  std::string url = store_->UrlFor("img", "up4");
  auto first = store_->Create(url);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(store_->Create(url).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(FileStoreTest, RefusesUrlsOutsideTheStore) {
  for (std::string url : {std::string("http://x/y"), std::string("file:///etc/passwd"),
                          "file://" + dir_ + "/data/../escape", "file://" + dir_ + "/data/a/b",
                          "file://" + dir_ + "/data/", "file://" + dir_ + "/database/x"}) {
    EXPECT_EQ(store_->Delete(url).code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_EQ(store_->Create(url).status().code(), absl::StatusCode::kInvalidArgument) << url;
  }
}

TEST(FileStoreOpenTest, RejectsRelativeDirectory) {
  EXPECT_EQ(FileStore::InDirectory("relative/dir").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gaze::store
