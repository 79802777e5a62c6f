package cloudcontrol_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/athanor-dev/athanor/cloudcontrol"
)

// The engine's use of the provider: persist the ClientToken before the call
// and the RequestToken right after, then wait for the result.
func ExampleClient_Apply() {
	ctx := context.Background()
	cfg, err := cloudcontrol.LoadConfig(ctx, "http://127.0.0.1:4566") // or cloudcontrol.TargetAWS
	if err != nil {
		log.Fatal(err)
	}
	client := cloudcontrol.New(cfg, cloudcontrol.WithConcurrency(32))

	op := cloudcontrol.Operation{
		Kind:     cloudcontrol.Create,
		TypeName: "AWS::IoT::JobTemplate",
		Desired:  json.RawMessage(`{"JobTemplateId":"device-update-template","Description":"Basic job template","Document":"{}"}`),
	}
	ev, err := client.Apply(ctx, op, cloudcontrol.Hooks{
		BeforeSend: func(ctx context.Context, clientToken string) error {
			return nil // record intent and clientToken durably here
		},
		Started: func(ctx context.Context, ev cloudcontrol.ProgressEvent) error {
			return nil // record ev.RequestToken durably here
		},
	})
	switch {
	case errors.Is(err, cloudcontrol.ErrAlreadyExists):
		// adopt it, or report the collision
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(ev.Identifier, string(ev.ResourceModel))
	fmt.Printf("%+v\n", client.Stats())
}
