// compose-check loads a Compose project the way `docker compose config` does (compose-go: the reference
// loader): merges the files in order, interpolates variables from an env file, and validates the result
// against the Compose Specification's JSON schema. No Docker engine needed.
//
//	go run . <env-file> <project-dir> <compose-file>...
package main

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: compose-check <env-file> <project-dir> <compose-file>...")
		os.Exit(2)
	}
	envFile, dir, files := os.Args[1], os.Args[2], os.Args[3:]
	opts, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(dir),
		cli.WithEnvFiles(envFile),
		cli.WithDotEnv,
		cli.WithName("order-platform"),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose-check:", err)
		os.Exit(1)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose-check:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(project.Services))
	for name := range project.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := project.Services[name]
		replicas := 1
		if s.Deploy != nil && s.Deploy.Replicas != nil {
			replicas = *s.Deploy.Replicas
		}
		nets := make([]string, 0, len(s.Networks))
		for n := range s.Networks {
			nets = append(nets, n)
		}
		sort.Strings(nets)
		fmt.Printf("%s replicas=%d networks=%v healthcheck=%t\n", name, replicas, nets, s.HealthCheck != nil || s.Restart == "no")
	}
}
