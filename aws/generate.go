package aws

// The typed packages are generated from the registry schemas in
// ../shared/schemas/cloudformation beside the module root, or in
// $ATHANOR_SCHEMAS when it is set.
//go:generate go run ../internal/gen/cmd/gentyped -out . AWS::*
