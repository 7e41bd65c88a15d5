// Package web holds the browser call app: plain ES modules, CSS and HTML
// under static/, embedded into the hub binary and served by internal/web.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files returns the app's files, rooted at static/ (index.html at the top).
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // "static" is a literal directory embedded above
	}
	return sub
}
