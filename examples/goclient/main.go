// Command goclient shows the generated Go clients (gen/openapi/<svc>api) used from outside the
// platform: it signs in at the CMS gateway, creates and publishes a program, and lists the public
// programs on the discovery gateway. Start a platform first (`make run`), then:
//
//	go run ./examples/goclient -email admin@mediamesh.local -password '<one-time password>'
//
// The clients are the ones the services use to call each other: every request and answer is a
// type generated from the contracts in specs/. A gateway fronts the operations of several services,
// so each service's client is pointed at the gateway that fronts it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	discoveryapi "github.com/mediamesh/mediamesh/gen/openapi/v2/discoveryapi"
)

func main() {
	cmsURL := flag.String("cms", "http://localhost:8081", "the CMS gateway")
	discoveryURL := flag.String("discovery", "http://localhost:8080", "the discovery gateway")
	email := flag.String("email", "admin@mediamesh.local", "an EDITOR or ADMIN")
	password := flag.String("password", "", "its password")
	flag.Parse()
	if err := run(context.Background(), *cmsURL, *discoveryURL, *email, *password); err != nil {
		fmt.Fprintln(os.Stderr, "goclient:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cmsURL, discoveryURL, email, password string) error {
	// Sign in: authapi's login, through the CMS gateway.
	auth, err := authapi.NewClientWithResponses(cmsURL)
	if err != nil {
		return err
	}
	login, err := auth.LoginWithResponse(ctx, authapi.LoginRequest{Email: authapi.Email(email), Password: &password})
	if err != nil {
		return err
	}
	if login.JSON200 == nil {
		return fmt.Errorf("login: %s: %s", login.Status(), login.Body) // an RFC 7807 problem
	}
	bearer := func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+login.JSON200.AccessToken)
		return nil
	}

	// Create a program (a retry with the same Idempotency-Key answers the first result) and publish it.
	cms, err := cmsapi.NewClientWithResponses(cmsURL, cmsapi.WithRequestEditorFn(bearer))
	if err != nil {
		return err
	}
	slug := "example-" + uuid.NewString()[:8]
	created, err := cms.CreateProgramWithResponse(ctx, &cmsapi.CreateProgramParams{IdempotencyKey: ptr(uuid.NewString())},
		cmsapi.ProgramCreate{Kind: cmsapi.ProgramKind("podcast"), Title: "Example program", Slug: slug, Language: "en"})
	if err != nil {
		return err
	}
	if created.JSON201 == nil {
		return fmt.Errorf("createProgram: %s: %s", created.Status(), created.Body)
	}
	fmt.Printf("created program %s (%s), version %d\n", created.JSON201.Id, slug, created.JSON201.Version)
	published, err := cms.PublishProgramWithResponse(ctx, created.JSON201.Id, nil, cmsapi.PublishRequest{})
	if err != nil {
		return err
	}
	if published.JSON200 == nil {
		return fmt.Errorf("publishProgram: %s: %s", published.Status(), published.Body)
	}
	fmt.Printf("published it: %s\n", published.JSON200.Status)

	// The public side: the discovery read model follows the content events within moments. Its v2
	// (gen/openapi/v2/discoveryapi) answers each program's language as an object.
	discovery, err := discoveryapi.NewClientWithResponses(discoveryURL)
	if err != nil {
		return err
	}
	limit := commonapi.Limit(20)
	for range 50 {
		list, err := discovery.ListProgramsV2WithResponse(ctx, &discoveryapi.ListProgramsV2Params{Limit: &limit})
		if err != nil {
			return err
		}
		if list.JSON200 == nil {
			return fmt.Errorf("listProgramsV2: %s: %s", list.Status(), list.Body)
		}
		for _, p := range list.JSON200.Items {
			if p.Id == created.JSON201.Id {
				fmt.Printf("found it on the discovery gateway among %d programs: %q (%s, %s)\n", len(list.JSON200.Items), p.Title, p.Language.NativeName, p.Language.Direction)
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("program %s is not listed on the discovery gateway", created.JSON201.Id)
}

func ptr[T any](v T) *T { return &v }
