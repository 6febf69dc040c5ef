//go:build tools

// This file is never compiled. It keeps k8s.io/apiextensions-apiserver in
// go.mod so that the dependencies both binaries share (gRPC, protobuf, the
// etcd client, zap) resolve to the same versions, and Go's build cache
// compiles them once for both.
package main

import _ "k8s.io/apiextensions-apiserver/pkg/cmd/server"
