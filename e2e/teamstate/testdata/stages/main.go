// Command stages is the program of the team-state tests: an app whose one
// job template is named after the stage, so that several stages of the app
// can live in one account (one emulator) at once.
//
// With TEAMSTATE_HOLD set it keeps its run open after deploying, holding the
// stage lock (and the embedded emulator, with the default target), until its
// standard input closes; it prints "holding" first, so that a test can start
// another run while this one is in the middle of its own.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/aws/iot"
	_ "github.com/athanor-dev/athanor/state/postgres" // the tests' postgres:// state
)

func main() {
	athanor.Main("teamstate", func(app *athanor.App) error {
		tpl, err := iot.NewJobTemplate(app, "template", iot.JobTemplateArgs{
			JobTemplateId: "teamstate-" + app.Stage(),
			Description:   "Job template of stage " + app.Stage(),
			Document:      iot.InlineDocument(`{"operation":"update"}`),
		})
		if err != nil {
			return err
		}
		app.Export("arn", tpl.Arn)
		if os.Getenv("TEAMSTATE_HOLD") != "" {
			fmt.Println("holding")
			if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
				return fmt.Errorf("hold: %w", err)
			}
		}
		return nil
	})
}
