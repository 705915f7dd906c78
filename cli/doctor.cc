#include "cli/doctor.h"

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/config.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/common.h"
#include "grpcpp/grpcpp.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/version.h"

#ifdef GANDER_WITH_CUDA
#include "kernels/cuda/elementwise.h"
#endif

namespace gander::cli {
namespace {

Check Versions() {
  Check check{"versions", "", absl::OkStatus(), true};
  check.detail =
      absl::StrCat("gRPC ", grpc::Version(), ", protobuf ",
                   google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION), ", RocksDB ",
                   rocksdb::GetRocksVersionAsString(), ", Abseil LTS ", ABSL_LTS_RELEASE_VERSION);
  return check;
}

Check ZstdSupport() {
  for (rocksdb::CompressionType type : rocksdb::GetSupportedCompressions()) {
    if (type == rocksdb::kZSTD) return {"rocksdb.zstd", "supported", absl::OkStatus(), true};
  }
  return {"rocksdb.zstd", "missing",
          absl::FailedPreconditionError("the system RocksDB was built without zstd"), true};
}

absl::Status ToStatus(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

// Writes a synced value, closes, reopens and reads it back.
absl::Status RoundTrip(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.compression = rocksdb::kZSTD;
  const std::string key = "doctor", value(4096, 'g');
  {
    rocksdb::DB* raw = nullptr;
    if (auto s = ToStatus(rocksdb::DB::Open(options, dir, &raw), "open"); !s.ok()) return s;
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    if (auto s = ToStatus(db->Put(write_options, key, value), "put"); !s.ok()) return s;
    if (auto s = ToStatus(db->Close(), "close"); !s.ok()) return s;
  }
  rocksdb::DB* raw = nullptr;
  if (auto s = ToStatus(rocksdb::DB::Open(options, dir, &raw), "reopen"); !s.ok()) return s;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string read;
  if (auto s = ToStatus(db->Get(rocksdb::ReadOptions(), key, &read), "get"); !s.ok()) return s;
  if (read != value) return absl::DataLossError("value read back differs from value written");
  return ToStatus(db->Close(), "close");
}

Check RocksDbRoundTrip(const std::string& scratch_dir) {
  std::string pattern = scratch_dir + "/gander-doctor-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return {"rocksdb.roundtrip", "",
            absl::InternalError("cannot create a directory in " + scratch_dir), true};
  }
  const std::string dir = pattern + "/db";
  absl::Status status = RoundTrip(dir);
  // Clean up whatever happened; a failure to clean up is not the finding.
  rocksdb::DestroyDB(dir, rocksdb::Options()).PermitUncheckedError();
  rmdir(pattern.c_str());
  return {"rocksdb.roundtrip", status.ok() ? "write, sync, close, reopen, read: ok" : "", status,
          true};
}

Check Cuda() {
#ifdef GANDER_WITH_CUDA
  int count = 0;
  cudaError_t err = kernels::cuda::DeviceCount(&count);
  if (err != cudaSuccess) {
    return {"cuda", absl::StrCat("built with CUDA; no usable device: ", cudaGetErrorString(err)),
            absl::UnavailableError(cudaGetErrorString(err)), false};
  }
  return {"cuda", absl::StrCat("built with CUDA; ", count, " device(s)"), absl::OkStatus(), false};
#else
  return {"cuda", "not built (build with --config=cuda); CPU backend only", absl::OkStatus(),
          false};
#endif
}

}  // namespace

std::vector<Check> RunDoctor(const std::string& scratch_dir) {
  return {Versions(), ZstdSupport(), RocksDbRoundTrip(scratch_dir), Cuda()};
}

bool AllPassed(const std::vector<Check>& checks) {
  for (const Check& check : checks) {
    if (check.required && !check.status.ok()) return false;
  }
  return true;
}

}  // namespace gander::cli
