# The action's container: a static binary on distroless/static.
# GitHub runs docker actions as root so they can write /github/file_commands:
# the final stage deliberately sets no USER.
# main's action.yml builds this file (CI and `uses: ./` test the source);
# .github/workflows/release.yml builds it once per release for linux/amd64 and
# linux/arm64 and pins the release commit's action.yml to that image's digest
# (RELEASING.md). The compiler runs on the build platform and
# cross-compiles, so no platform is emulated; with -trimpath and
# -buildvcs=false the binary depends only on the source, Go and VERSION, and
# the release workflow builds its downloadable binaries with the same flags.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV GOTOOLCHAIN=local CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X github.com/oci-attest/oci-attest/internal/cli.version=${VERSION}" \
      -o /out/oci-attest .

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/oci-attest /oci-attest
ENTRYPOINT ["/oci-attest"]
