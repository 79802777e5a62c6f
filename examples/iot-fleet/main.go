// Command iot-fleet deploys what an AWS IoT fleet needs to run jobs from
// documents kept in S3: a bucket for the job documents, an IAM role that
// AWS IoT assumes to presign their URLs and to publish notifications, an
// SNS topic for those notifications, a topic rule that forwards the fleet's
// job events to it, and job templates that read their documents from the
// bucket through the role. Every link between them is a typed output: the
// templates' DocumentSource is built from the bucket's RegionalDomainName,
// their PresignedUrlConfig.RoleArn is the role's Arn, and the notifications
// go to the topic's TopicArn.
//
//	go run ./examples/iot-fleet             # deploy to the embedded emulator
//	go run ./examples/iot-fleet             # again: nothing changes
//	go run ./examples/iot-fleet --plan      # show what would change
//	go run ./examples/iot-fleet --destroy   # remove it, dependents first
//
// Add --target aws to deploy to your AWS account instead, and --stage NAME
// to deploy another copy beside the first.
package main

import (
	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/examples/iot-fleet/fleet"
)

func main() {
	athanor.Main("iot-fleet", fleet.Stack)
}
