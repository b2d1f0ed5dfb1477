module github.com/racefree/racefree

go 1.26.8

require (
	github.com/cyphar/filepath-securejoin v0.7.0
	github.com/google/go-cmp v0.7.0
	github.com/google/renameio/v2 v2.0.2
	golang.org/x/sys v0.49.0
)

require cyphar.com/go-pathrs v0.2.5 // indirect
