// Command capi is edgerun's C ABI: built with -buildmode=c-shared or -buildmode=c-archive
// it becomes libedgerun, whose interface is edgerun.h (see README.md). It needs cgo;
// without cgo the package builds as an empty program so that `go build ./...` works
// everywhere.
package main

func main() {}
