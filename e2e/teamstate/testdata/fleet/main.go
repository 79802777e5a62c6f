// Command fleet is the program of the fencing tests: app "fence", declaring
// in parallel FENCE_TEMPLATES job templates (identifiers chosen here,
// "fence-<stage>-tplNNN"), FENCE_TOPICS SNS topics and FENCE_QUEUES SQS
// queues (identifiers the service generates). Every resource carries its
// logical id as the tag "athanor-key" (templates: in their description), so
// that a test can tell duplicates in the cloud apart.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/athanor-dev/athanor"
	_ "github.com/athanor-dev/athanor/state/postgres" // the fencing tests' postgres:// state
	_ "github.com/athanor-dev/athanor/state/s3"       // the S3 tests' s3:// state
)

func count(name string) int {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func tags(key string) []any {
	return []any{map[string]any{"Key": "athanor-key", "Value": key}}
}

func main() {
	templates, topics, queues := count("FENCE_TEMPLATES"), count("FENCE_TOPICS"), count("FENCE_QUEUES")
	athanor.Main("fence", func(app *athanor.App) error {
		for i := range templates {
			app.Go(func() error {
				key := fmt.Sprintf("tpl%03d", i)
				_, err := app.Declare("AWS::IoT::JobTemplate", key, map[string]any{
					"JobTemplateId": fmt.Sprintf("fence-%s-%s", app.Stage(), key),
					"Description":   "athanor-key " + key,
					"Document":      `{"operation":"update"}`,
				})
				return err
			})
		}
		for i := range topics {
			app.Go(func() error {
				key := fmt.Sprintf("topic%03d", i)
				_, err := app.Declare("AWS::SNS::Topic", key, map[string]any{"DisplayName": "fleet topic", "Tags": tags(key)})
				return err
			})
		}
		for i := range queues {
			app.Go(func() error {
				key := fmt.Sprintf("queue%03d", i)
				_, err := app.Declare("AWS::SQS::Queue", key, map[string]any{"Tags": tags(key)})
				return err
			})
		}
		return nil
	})
}
