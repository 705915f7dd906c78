"""cuda_library: compiles .cu files with nvcc and links them like C++.

Each `.cu` becomes one object file through a genrule that runs nvcc; a
cc_library links the objects (alwayslink) with cudart and, on request,
cuBLAS. CUDA targets build only with `--config=cuda` (which sets
`--define=gander_cuda=1`); on the default build they are skipped as
incompatible, so machines without the toolkit build the CPU path alone.

Example:

    load("//tools/build_defs:cuda.bzl", "cuda_library", "CUDA_ONLY")

    cuda_library(
        name = "axpy",
        srcs = ["axpy.cu"],
        hdrs = ["axpy.h"],
    )

    cc_test(name = "axpy_test", srcs = [...], deps = [":axpy"],
            target_compatible_with = CUDA_ONLY)

Device code is compiled without -rdc: a kernel and everything it calls must
sit in one .cu file.
"""

# Real GPU code for Ampere (A100) and Hopper (H100/H200), plus PTX for
# Hopper so newer GPUs can JIT it.
CUDA_GENCODE = [
    "-gencode=arch=compute_80,code=sm_80",
    "-gencode=arch=compute_90,code=sm_90",
    "-gencode=arch=compute_90,code=compute_90",
]

# target_compatible_with value for targets that exist only with --config=cuda.
CUDA_ONLY = select({
    "//:cuda_enabled": [],
    "//conditions:default": ["//tools/build_defs:cuda_disabled"],
})

def cuda_library(name, srcs, hdrs = [], deps = [], cuda_hdrs = [], cublas = False, nvcc_flags = [], **kwargs):
    """Compiles `srcs` (.cu) with nvcc into a linkable cc_library.

    Args:
      name: the cc_library's name.
      srcs: .cu files, one object each.
      hdrs: public C++ headers of the library (also visible to nvcc).
      deps: cc deps of the library.
      cuda_hdrs: other headers (labels) the .cu files include.
      cublas: link cuBLAS and cuBLASLt as well as cudart.
      nvcc_flags: extra nvcc flags.
      **kwargs: passed to the cc_library (visibility, testonly, ...).
    """
    objects = []
    for src in srcs:
        stem = src[:-len(".cu")] if src.endswith(".cu") else src
        obj = "_nvcc/{}/{}.o".format(name, stem)
        native.genrule(
            name = "{}_{}_nvcc".format(name, stem.replace("/", "_")),
            srcs = [src] + hdrs + cuda_hdrs,
            outs = [obj],
            tools = ["@local_cuda//:nvcc"],
            cmd = " ".join([
                "$(location @local_cuda//:nvcc)",
                "-c",
                "-std=c++17",
                "-O3",
                "--expt-relaxed-constexpr",
                "-Xcompiler=-fPIC",
                "-I.",
                "-I$(GENDIR)",
            ] + CUDA_GENCODE + nvcc_flags + [
                "-o $@",
                "$(location {})".format(src),
            ]),
            target_compatible_with = CUDA_ONLY,
            visibility = ["//visibility:private"],
        )
        objects.append(obj)

    native.cc_library(
        name = name,
        srcs = objects,
        hdrs = hdrs,
        deps = deps + ["@local_cuda//:cublas" if cublas else "@local_cuda//:cudart"],
        alwayslink = True,
        target_compatible_with = CUDA_ONLY,
        **kwargs
    )
