package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/kibitzbox/kibitzbox/internal/render"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// httpSource fetches both status documents; one that cannot be fetched
// is nil in the result (the frame then says it is starting or down).
type httpSource struct {
	hubURL, hotspotURL string
	client             *http.Client

	mu sync.Mutex
	// up remembers the last outcome per URL so only changes are logged.
	up map[string]bool
}

func (s *httpSource) get(ctx context.Context) render.Input {
	var (
		in      render.Input
		wg      sync.WaitGroup
		hub     status.Hub
		hotspot status.Hotspot
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if s.fetch(ctx, "hub", s.hubURL, &hub) {
			in.Hub = &hub
		}
	}()
	go func() {
		defer wg.Done()
		if s.fetch(ctx, "hotspot", s.hotspotURL, &hotspot) {
			in.Hotspot = &hotspot
		}
	}()
	wg.Wait()
	return in
}

func (s *httpSource) fetch(ctx context.Context, name, url string, v any) bool {
	err := status.Fetch(ctx, s.client, url, v)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up == nil {
		s.up = map[string]bool{}
	}
	was, seen := s.up[url]
	s.up[url] = err == nil
	switch {
	case err != nil && (was || !seen):
		slog.Warn("display: status unavailable", "daemon", name, "err", err)
	case err == nil && !was:
		slog.Info("display: status available", "daemon", name, "url", url)
	}
	return err == nil
}
