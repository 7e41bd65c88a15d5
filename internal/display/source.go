package display

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/render"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// fetchTimeout bounds one status request, body included: a hub that
// stalls must not hold the screen.
const fetchTimeout = 2 * time.Second

// httpSource fetches both status documents; one that cannot be fetched
// is nil in the result (the frame then says it is starting or down).
//
// The call QR does not depend on reading the hub's document whole: its
// payload (the app URL) comes first in the document and does not change
// while the hub runs, so the source keeps the last one it saw, also from
// a document cut off by the size limit or a stall, and hands it on as
// render.Input.CallURL when the document is not usable.
type httpSource struct {
	hubURL, hotspotURL string
	client             *http.Client
	log                *slog.Logger

	mu sync.Mutex
	// up remembers the last outcome per URL so only changes are logged.
	up      map[string]bool
	callURL string
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
		err := s.fetch(ctx, "hub", s.hubURL, &hub)
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case err == nil:
			in.Hub = &hub
			s.callURL = hub.AppURL
		case errors.Is(err, status.ErrPartial) && hub.AppURL != "":
			s.callURL = hub.AppURL
		}
		if in.Hub == nil {
			in.CallURL = s.callURL
		}
	}()
	go func() {
		defer wg.Done()
		if s.fetch(ctx, "hotspot", s.hotspotURL, &hotspot) == nil {
			in.Hotspot = &hotspot
		}
	}()
	wg.Wait()
	return in
}

func (s *httpSource) fetch(ctx context.Context, name, url string, v any) error {
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
		s.log.Warn("display: status unavailable", "daemon", name, "err", err)
	case err == nil && !was:
		s.log.Info("display: status available", "daemon", name, "url", url)
	}
	return err
}
