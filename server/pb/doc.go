// Package pb holds the protobuf definitions of robustmq's inner gRPC API and the Go code generated
// from them.
//
// Every .proto file of the project lives in this one folder and belongs to a versioned proto package
// (robustmq.inner.v1 for the node service; the Meta Service and the Storage Engine add theirs). The
// *.pb.go and *_grpc.pb.go files are generated and committed: edit the .proto file, then run
// `make proto`, which uses Debian's protoc and the Go plugins pinned in the Makefile
// (protoc-gen-go v1.36.12, protoc-gen-go-grpc v1.6.2), and commit the regenerated files with it.
//
// Wire compatibility: field numbers of a released message are frozen; add fields with new numbers and
// never reuse a removed one.
package pb
