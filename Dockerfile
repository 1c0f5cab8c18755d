# The operator image: the manager built statically for the target platform,
# on a distroless base, running as a non-root user.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Download dependencies in their own layer: it changes less than the code.
COPY go.work go.work.sum ./
COPY operator/go.mod operator/go.sum operator/
COPY tools/go.mod tools/go.sum tools/
RUN cd operator && GOWORK=off go mod download

COPY operator/ operator/
# GOARCH from TARGETARCH: `docker buildx --platform` builds each arch natively
# in Go, without emulating the build.
RUN cd operator && GOWORK=off CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w" -a -o /workspace/manager ./cmd

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
