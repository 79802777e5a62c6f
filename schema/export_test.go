package schema

// Helpers of the in-package tests, for the external ones
// (jobtemplate_rules_test.go).
var (
	Decode         = decode
	ReadModel      = readModel
	ViolationLines = violationLines
	SchemasDir     = schemasDir
	Merge          = merge
)
