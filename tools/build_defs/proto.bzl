"""cc_grpc_proto_library: C++ protobuf and gRPC code from .proto files.

Runs the system `protoc` (with `grpc_cpp_plugin` for services) in a genrule
and wraps the generated sources in a cc_library. The package that calls the
macro is the proto import root: a file at `<package>/gander/v1/x.proto` is
imported as "gander/v1/x.proto" and its header is included as
"gander/v1/x.pb.h" (and "gander/v1/x.grpc.pb.h"). Files under one root may
import each other when they are in the same call; the well-known types
(google/protobuf/*.proto) come from the system protobuf.

Example (proto/BUILD.bazel):

    cc_grpc_proto_library(
        name = "gander_v1",
        srcs = ["gander/v1/models.proto"],
    )
"""

def _import_root():
    repo = native.repository_name()
    pkg = native.package_name()
    parts = []
    if repo not in ("", "@"):
        parts.append("external/" + repo.lstrip("@"))
    if pkg:
        parts.append(pkg)
    return "/".join(parts) if parts else "."

def cc_grpc_proto_library(name, srcs, grpc = True, deps = [], **kwargs):
    """C++ messages (and gRPC stubs when `grpc`) for `srcs`.

    Args:
      name: the cc_library's name.
      srcs: .proto files, paths relative to this package (= import paths).
      grpc: also generate gRPC service code.
      deps: further cc deps of the generated code.
      **kwargs: passed to the cc_library (visibility, ...).
    """
    stems = [s[:-len(".proto")] for s in srcs]
    outs = [s + ".pb.h" for s in stems] + [s + ".pb.cc" for s in stems]
    if grpc:
        outs += [s + ".grpc.pb.h" for s in stems] + [s + ".grpc.pb.cc" for s in stems]

    protoc = "@system//:protoc"
    plugin = "@system//:grpc_cpp_plugin"
    cmd = [
        "$(location {})".format(protoc),
        "-I" + _import_root(),
        "--cpp_out=$(RULEDIR)",
    ]
    tools = [protoc]
    if grpc:
        cmd += [
            "--grpc_out=$(RULEDIR)",
            "--plugin=protoc-gen-grpc=$(location {})".format(plugin),
        ]
        tools.append(plugin)
    cmd += ["$(location {})".format(s) for s in srcs]

    native.genrule(
        name = name + "_codegen",
        srcs = srcs,
        outs = outs,
        tools = tools,
        cmd = " ".join(cmd),
        visibility = ["//visibility:private"],
    )

    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + ["@system//:protobuf"] + (["@system//:grpc"] if grpc else []),
        **kwargs
    )
