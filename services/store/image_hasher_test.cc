#include "services/store/image_hasher.h"

#include <condition_variable>
#include <mutex>

#include "gtest/gtest.h"
#include "services/common/worker_pool.h"

namespace gaze::store {
namespace {

TEST(ImageHasherTest, KnownDigestsOfSplitInput) {
  auto hasher = ImageHasher::Create("sha512");
  ASSERT_TRUE(hasher.ok());
  hasher->Update("ab", 2);
  hasher->Update("c", 1);
  ImageDigests d = hasher->Finish();
  EXPECT_EQ(d.size, 3u);
  EXPECT_EQ(d.checksum, "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(d.os_hash_algo, "sha512");
  EXPECT_EQ(d.os_hash_value,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(ImageHasherTest, EmptyInput) {
  auto hasher = ImageHasher::Create("sha256");
  ASSERT_TRUE(hasher.ok());
  ImageDigests d = hasher->Finish();
  EXPECT_EQ(d.size, 0u);
  EXPECT_EQ(d.checksum, "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(d.os_hash_value, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ImageHasherTest, PoolGivesTheSameDigests) {
  WorkerPool pool(2);
  auto serial = ImageHasher::Create("sha512");
  auto parallel = ImageHasher::Create("sha512", &pool);
  ASSERT_TRUE(serial.ok() && parallel.ok());
  std::string data(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 9));
  for (size_t off = 0; off < data.size(); off += 65536) {
    size_t n = std::min<size_t>(65536, data.size() - off);
    serial->Update(data.data() + off, n);
    parallel->Update(data.data() + off, n);
  }
  ImageDigests a = serial->Finish();
  ImageDigests b = parallel->Finish();
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.checksum, b.checksum);
  EXPECT_EQ(a.os_hash_value, b.os_hash_value);
}

TEST(ImageHasherTest, UpdateAsyncGivesTheSameDigests) {
  WorkerPool pool(2);
  auto serial = ImageHasher::Create("sha512");
  auto pooled = ImageHasher::Create("sha512", &pool);
  auto inline_async = ImageHasher::Create("sha512");
  ASSERT_TRUE(serial.ok() && pooled.ok() && inline_async.ok());
  std::string data(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 9));
  for (size_t off = 0; off < data.size(); off += 65536) {
    size_t n = std::min<size_t>(65536, data.size() - off);
    serial->Update(data.data() + off, n);
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    pooled->UpdateAsync(data.data() + off, n, [&] {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_one();
    });
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done; });
    }
    bool ran = false;
    inline_async->UpdateAsync(data.data() + off, n, [&] { ran = true; });
    EXPECT_TRUE(ran);
  }
  ImageDigests a = serial->Finish();
  ImageDigests b = pooled->Finish();
  ImageDigests c = inline_async->Finish();
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.checksum, b.checksum);
  EXPECT_EQ(a.os_hash_value, b.os_hash_value);
  EXPECT_EQ(a.checksum, c.checksum);
  EXPECT_EQ(a.os_hash_value, c.os_hash_value);
}

TEST(ImageHasherTest, UpdateAsyncQueuedAheadGivesTheSameDigests) {
  WorkerPool pool(2);
  auto serial = ImageHasher::Create("sha512");
  auto pooled = ImageHasher::Create("sha512", &pool);
  ASSERT_TRUE(serial.ok() && pooled.ok());
  std::string data(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 37 + (i >> 11));
  std::mutex mu;
  std::condition_variable cv;
  size_t queued = 0, done = 0;
  for (size_t off = 0; off < data.size(); off += 4096) {
    size_t n = std::min<size_t>(4096, data.size() - off);
    serial->Update(data.data() + off, n);
    ++queued;
    pooled->UpdateAsync(data.data() + off, n, [&] {
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      cv.notify_one();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done == queued; });
  }
  ImageDigests a = serial->Finish();
  ImageDigests b = pooled->Finish();
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.checksum, b.checksum);
  EXPECT_EQ(a.os_hash_value, b.os_hash_value);
}

TEST(ImageHasherTest, UnknownAlgorithmIsRejected) {
  EXPECT_EQ(ImageHasher::Create("nope").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gaze::store
