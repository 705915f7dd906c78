#include "cli/client/streams_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cli/client/table.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"

namespace gander::cli::client {
namespace {

// An absl::Status for a failed file operation, coded by errno.
absl::Status FileError(int error, absl::string_view what, absl::string_view path) {
  const std::string message = absl::StrCat(what, " '", path, "': ", std::strerror(error));
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    case EISDIR:
    case ENOTDIR:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

// Writes all of `data` to `fd`.
absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError(errno, "cannot write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// The directory holding `path` ("." for a bare name).
std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A file written under a temporary name and renamed into place on Commit;
// removed when destroyed uncommitted.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {}
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (opened_ && !committed_) ::unlink(tmp_.c_str());
  }

  absl::Status Open() {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return FileError(errno, "cannot create", tmp_);
    opened_ = true;
    return absl::OkStatus();
  }

  absl::Status Append(absl::string_view data) { return WriteAll(fd_, data, tmp_); }

  // fsync, close, rename over the final path, fsync the directory.
  absl::Status Commit() {
    if (::fsync(fd_) != 0) return FileError(errno, "cannot sync", tmp_);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return FileError(errno, "cannot close", tmp_);
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
      return FileError(errno, absl::StrCat("cannot rename '", tmp_, "' to"), path_);
    }
    committed_ = true;
    const std::string dir = DirectoryOf(path_);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return FileError(errno, "cannot open directory", dir);
    const int synced = ::fsync(dir_fd);
    const int error = errno;
    ::close(dir_fd);
    if (synced != 0) return FileError(error, "cannot sync directory", dir);
    return absl::OkStatus();
  }

 private:
  const std::string path_;
  const std::string tmp_;
  int fd_ = -1;
  bool opened_ = false;
  bool committed_ = false;
};

// Incremental XXH3-128 in checkpoint-id form.
class CheckpointHasher {
 public:
  CheckpointHasher() : state_(XXH3_createState()) {
    if (state_ != nullptr) XXH3_128bits_reset(state_);
  }
  CheckpointHasher(const CheckpointHasher&) = delete;
  CheckpointHasher& operator=(const CheckpointHasher&) = delete;
  ~CheckpointHasher() { XXH3_freeState(state_); }

  bool Valid() const { return state_ != nullptr; }
  void Update(absl::string_view bytes) { XXH3_128bits_update(state_, bytes.data(), bytes.size()); }
  std::string Hex() const {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state_));
    return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(canonical.digest),
                                                    sizeof(canonical.digest)));
  }

 private:
  XXH3_state_t* state_;
};

std::string Parent(const v1::StreamInfo& stream) {
  if (stream.parent_id().empty()) return "-";
  return FormatStreamRef(StreamRef{stream.parent_id(), stream.parent_version()});
}

}  // namespace

std::string CheckpointIdOf(absl::string_view bytes) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(bytes.data(), bytes.size()));
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(canonical.digest), sizeof(canonical.digest)));
}

absl::Status ValidateCheckpointId(absl::string_view id) {
  if (id.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint id '", id, "' has ", id.size(), " characters (expected 32)"));
  }
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint id '", id, "': '",
                                                     std::string(1, c), "' at offset ", i,
                                                     " is not a lowercase hex digit"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::StreamInfo>> ListAllStreams(v1::Streams::StubInterface* stub,
                                                           const ClientOptions& options,
                                                           const std::string& tenant,
                                                           uint32_t page_size) {
  std::vector<v1::StreamInfo> streams;
  std::set<std::string> seen_tokens;
  v1::ListStreamsRequest request;
  request.set_tenant(tenant);
  request.set_page_size(page_size);
  while (true) {
    grpc::ClientContext context;
    PrepareContext(options, /*stream_id=*/"", &context);
    v1::ListStreamsResponse response;
    const grpc::Status status = stub->ListStreams(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    for (v1::StreamInfo& stream : *response.mutable_streams()) streams.push_back(std::move(stream));
    if (response.next_page_token().empty()) return streams;
    if (!seen_tokens.insert(response.next_page_token()).second) {
      return absl::InternalError(absl::StrCat("ListStreams repeated the page token '",
                                              absl::CHexEscape(response.next_page_token()),
                                              "' after ", streams.size(), " streams"));
    }
    request.set_page_token(response.next_page_token());
  }
}

absl::StatusOr<v1::ExportHeader> ExportStreamToFile(v1::Streams::StubInterface* stub,
                                                    const ClientOptions& options,
                                                    const StreamRef& ref, const std::string& path) {
  GANDER_RETURN_IF_ERROR(ValidateStreamId(ref.id));
  if (path.empty()) return absl::InvalidArgumentError("export: the output path is empty");
  CheckpointHasher hasher;
  if (!hasher.Valid()) return absl::ResourceExhaustedError("export: cannot allocate a hash state");
  v1::ExportStreamRequest request;
  request.set_stream_id(ref.id);
  request.set_version(ref.version);
  grpc::ClientContext context;
  PrepareContext(options, ref.id, &context);
  std::unique_ptr<grpc::ClientReaderInterface<v1::ExportStreamResponse>> reader =
      stub->ExportStream(&context, request);

  // Any early return below cancels the call first, then reads its end.
  auto abandon = [&](absl::Status status) {
    context.TryCancel();
    v1::ExportStreamResponse ignored;
    while (reader->Read(&ignored)) {
    }
    reader->Finish();  // Cancelled here: `status` says why.
    return status;
  };

  v1::ExportStreamResponse response;
  if (!reader->Read(&response)) {
    GANDER_RETURN_IF_ERROR(FinishAfterReads([&] { return reader->Finish(); }, &context));
    return absl::InternalError(
        absl::StrCat("export of ", FormatStreamRef(ref), ": the call ended OK with no header"));
  }
  if (!response.has_header()) {
    return abandon(absl::InternalError(
        absl::StrCat("export of ", FormatStreamRef(ref), ": the first message is not a header")));
  }
  const v1::ExportHeader header = response.header();
  const uint64_t size = header.size_bytes();
  if (size == 0 || size > kMaxStateBytes || size != header.version().size_bytes()) {
    return abandon(absl::InternalError(absl::StrCat(
        "export of ", FormatStreamRef(ref), ": header says ", size, " bytes (version says ",
        header.version().size_bytes(), "; expected 1 to ", kMaxStateBytes, ", equal)")));
  }
  if (!header.version().checkpoint_id().empty()) {
    if (absl::Status s = ValidateCheckpointId(header.version().checkpoint_id()); !s.ok()) {
      return abandon(absl::InternalError(
          absl::StrCat("export of ", FormatStreamRef(ref), ": header's ", s.message())));
    }
  }

  AtomicFile file(path);
  if (absl::Status s = file.Open(); !s.ok()) return abandon(s);
  uint64_t received = 0;
  while (reader->Read(&response)) {
    if (!response.has_chunk()) {
      return abandon(absl::InternalError(absl::StrCat(
          "export of ", FormatStreamRef(ref), ": a second header after ", received, " bytes")));
    }
    const std::string& chunk = response.chunk();
    if (received + chunk.size() > size) {
      return abandon(absl::DataLossError(
          absl::StrCat("export of ", FormatStreamRef(ref), ": received more than the ", size,
                       " bytes announced (", received + chunk.size(), " so far)")));
    }
    hasher.Update(chunk);
    if (absl::Status s = file.Append(chunk); !s.ok()) return abandon(s);
    received += chunk.size();
  }
  GANDER_RETURN_IF_ERROR(FinishAfterReads([&] { return reader->Finish(); }, &context));
  if (received != size) {
    return absl::DataLossError(absl::StrCat("export of ", FormatStreamRef(ref), ": received ",
                                            received, " of ", size, " bytes"));
  }
  const std::string& expected = header.version().checkpoint_id();
  if (!expected.empty() && hasher.Hex() != expected) {
    return absl::DataLossError(absl::StrCat("export of ", FormatStreamRef(ref),
                                            ": the bytes hash to ", hasher.Hex(),
                                            ", the header's checkpoint id is ", expected));
  }
  GANDER_RETURN_IF_ERROR(file.Commit());
  return header;
}

absl::StatusOr<v1::StreamInfo> ImportStreamFromFile(v1::Streams::StubInterface* stub,
                                                    const ClientOptions& options,
                                                    const std::string& path,
                                                    const ImportOptions& import) {
  if (!import.stream_id.empty()) GANDER_RETURN_IF_ERROR(ValidateStreamId(import.stream_id));
  if (!import.checkpoint_id.empty()) {
    GANDER_RETURN_IF_ERROR(ValidateCheckpointId(import.checkpoint_id));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FileError(errno, "cannot open", path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) return FileError(errno, "cannot stat", path);
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is not a regular file"));
  }
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  if (size == 0 || size > kMaxStateBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' is ", size, " bytes (a state is 1 to ", kMaxStateBytes, " bytes)"));
  }

  grpc::ClientContext context;
  PrepareContext(options, import.stream_id, &context);
  v1::ImportStreamResponse response;
  std::unique_ptr<grpc::ClientWriterInterface<v1::ImportStreamRequest>> writer =
      stub->ImportStream(&context, &response);
  v1::ImportStreamRequest request;
  v1::ImportHeader* header = request.mutable_header();
  header->set_stream_id(import.stream_id);
  header->set_tenant(import.tenant);
  header->set_size_bytes(size);
  header->set_checkpoint_id(import.checkpoint_id);
  bool open = writer->Write(request);
  uint64_t sent = 0;
  std::string buffer(kTransferChunkBytes, '\0');
  absl::Status local;
  while (open && sent < size) {
    const ssize_t n = ::read(fd, &buffer[0], buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      local = FileError(errno, "cannot read", path);
      break;
    }
    if (n == 0) break;
    if (sent + static_cast<uint64_t>(n) > size) {
      sent += static_cast<uint64_t>(n);
      break;
    }
    request.set_chunk(buffer.data(), static_cast<size_t>(n));
    open = writer->Write(request);
    sent += static_cast<uint64_t>(n);
  }
  if (local.ok() && open && sent != size) {
    local = absl::AbortedError(absl::StrCat("'", path, "' changed while it was read (", size,
                                            " bytes at the start, ", sent, " read)"));
  }
  if (!local.ok()) {
    context.TryCancel();
    writer->Finish();  // Cancelled here: `local` says why.
    return local;
  }
  if (open) writer->WritesDone();  // A broken call shows in Finish's status.
  const grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  return response.stream();
}

std::string FormatStreamTable(const std::vector<v1::StreamInfo>& streams) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(streams.size());
  for (const v1::StreamInfo& s : streams) {
    rows.push_back({s.id(), absl::StrCat(s.version()), absl::StrCat(s.token_count()), Parent(s),
                    FormatTimestamp(s.update_time())});
  }
  return FormatTable({"ID", "VERSION", "TOKENS", "PARENT", "UPDATED"}, rows);
}

std::string FormatStreamDetails(const v1::GetStreamResponse& response) {
  const v1::StreamInfo& s = response.stream();
  std::string out = FormatTable({"id", s.id()}, {{"tenant", s.tenant()},
                                                 {"model", s.model_fingerprint()},
                                                 {"version", absl::StrCat(s.version())},
                                                 {"tokens", absl::StrCat(s.token_count())},
                                                 {"parent", Parent(s)},
                                                 {"created", FormatTimestamp(s.create_time())},
                                                 {"updated", FormatTimestamp(s.update_time())}});
  if (response.versions().empty()) {
    absl::StrAppend(&out, "\nno checkpoints yet\n");
    return out;
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::VersionInfo& v : response.versions()) {
    rows.push_back({absl::StrCat(v.version()), absl::StrCat(v.token_count()),
                    absl::StrCat(v.size_bytes()), v.checkpoint_id(),
                    FormatTimestamp(v.create_time())});
  }
  absl::StrAppend(&out, "\n",
                  FormatTable({"VERSION", "TOKENS", "BYTES", "CHECKPOINT", "CREATED"}, rows));
  return out;
}

std::string FormatModelTable(const v1::ListModelsResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::ModelInfo& m : response.models()) {
    rows.push_back({m.name(), m.fingerprint(), absl::StrCat(m.layers()),
                    absl::StrCat(m.embedding_size()), absl::StrCat(m.head_size()),
                    absl::StrCat(m.vocab_size()), m.weight_dtype(), absl::StrCat(m.state_bytes()),
                    m.vocabulary().empty() ? "-" : m.vocabulary()});
  }
  return FormatTable({"NAME", "FINGERPRINT", "LAYERS", "EMBD", "HEAD", "VOCAB", "DTYPE",
                      "STATE_BYTES", "VOCABULARY"},
                     rows);
}

}  // namespace gander::cli::client
