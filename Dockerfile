# The action's container: a static binary on distroless/static.
# GitHub runs docker actions as root so they can write /github/file_commands:
# the final stage deliberately sets no USER.
# Releases publish this image prebuilt; see README "Releasing" for switching
# action.yml to docker://ghcr.io/… so users do not pay a build per run.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV GOTOOLCHAIN=local CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags="-s -w -X github.com/oci-attest/oci-attest/internal/cli.version=${VERSION}" -o /out/oci-attest .

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/oci-attest /oci-attest
ENTRYPOINT ["/oci-attest"]
