// ecsim's plugin SDK for Go: a plugin written against it builds, with `go build
// -buildmode=c-shared`, into a library ecsim loads like a Rust plugin (docs/plugins.md).
module ecsim.dev/sdk/go

go 1.19

require google.golang.org/protobuf v1.28.1
