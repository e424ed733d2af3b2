# Every routine task. The two that matter most are also plain scripts (infra/local/), so they work
# without `just`.

set shell := ["bash", "-euo", "pipefail", "-c"]

export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") + "/.cache/cairn-target")

# Install what is missing and run the local platform until Ctrl-C.
up *ARGS:
    infra/local/up {{ARGS}}

# Install what is missing and run `cairn demo`: the whole loop on generated data.
demo *ARGS:
    infra/local/demo {{ARGS}}

# Install the test dependencies and run the whole test suite.
test:
    infra/local/test

# Side-by-side benchmarks (release build); the latest figures are in BENCHMARKS.md.
bench:
    infra/local/bench

fmt:
    cargo fmt --all

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Check the deployment files that can be checked without a cluster.
infra-check:
    terraform -chdir=infra/terraform fmt -check -recursive
