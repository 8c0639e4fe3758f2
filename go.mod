module github.com/portenv/portenv

go 1.26.0

require (
	github.com/kelseyhightower/envconfig v1.4.0
	github.com/moby/moby/api v1.57.0
	github.com/rogpeppe/go-internal v1.16.0
	golang.org/x/sys v0.49.0
)

require golang.org/x/tools v0.50.0 // indirect
