// Package bidi is a small WebDriver BiDi client: enough of the protocol to
// drive Firefox in the browser tests (a session, tabs, navigation and
// script evaluation) over the WebSocket that `firefox --remote-debugging-port`
// opens. No driver binary (geckodriver) is needed.
package bidi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Client is one BiDi session.
type Client struct {
	ws *wsConn

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan response
	err     error // set once the connection is gone
	onEvent func(method string, params json.RawMessage)
}

type response struct {
	Type    string          `json:"type"`
	ID      *int64          `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// Dial connects to a BiDi WebSocket (ws://127.0.0.1:PORT/session) and
// starts a session. acceptInsecureCerts lets the browser load pages with
// a self-signed certificate (test only). onEvent, if not nil, gets every
// event after Subscribe.
func Dial(ctx context.Context, url string, acceptInsecureCerts bool, onEvent func(method string, params json.RawMessage)) (*Client, error) {
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	ws, err := dialWebSocket(url, timeout)
	if err != nil {
		return nil, err
	}
	c := &Client{ws: ws, pending: map[int64]chan response{}, onEvent: onEvent}
	go c.readLoop()
	caps := map[string]any{"alwaysMatch": map[string]any{"acceptInsecureCerts": acceptInsecureCerts}}
	if _, err := c.Call(ctx, "session.new", map[string]any{"capabilities": caps}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) readLoop() {
	for {
		msg, err := c.ws.readMessage()
		if err != nil {
			c.fail(fmt.Errorf("bidi connection: %w", err))
			return
		}
		var r response
		if err := json.Unmarshal(msg, &r); err != nil {
			continue
		}
		if r.Type == "event" {
			if c.onEvent != nil {
				c.onEvent(r.Method, r.Params)
			}
			continue
		}
		if r.ID == nil {
			continue
		}
		c.mu.Lock()
		ch := c.pending[*r.ID]
		delete(c.pending, *r.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
}

// Call sends one command and waits for its result.
func (c *Client) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", method, c.err)
	}
	c.nextID++
	id := c.nextID
	ch := make(chan response, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	if params == nil {
		params = map[string]any{}
	}
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return nil, fmt.Errorf("%s: encode: %w", method, err)
	}
	if err := c.ws.writeText(msg); err != nil {
		return nil, fmt.Errorf("%s: send: %w", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: connection closed: %w", method, c.closedErr())
		}
		if r.Type == "error" {
			return nil, fmt.Errorf("%s: %s: %s", method, r.Error, r.Message)
		}
		return r.Result, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return errors.New("closed")
	}
	return c.err
}

// Close ends the connection (the browser itself is the caller's to stop).
func (c *Client) Close() error { return c.ws.close() }

// Subscribe asks for events (for example "log.entryAdded").
func (c *Client) Subscribe(ctx context.Context, events ...string) error {
	_, err := c.Call(ctx, "session.subscribe", map[string]any{"events": events})
	return err
}

// NewTab opens a tab and returns its browsing context id.
func (c *Client) NewTab(ctx context.Context) (string, error) {
	res, err := c.Call(ctx, "browsingContext.create", map[string]any{"type": "tab"})
	if err != nil {
		return "", err
	}
	var r struct {
		Context string `json:"context"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return "", fmt.Errorf("browsingContext.create result %s: %w", res, err)
	}
	return r.Context, nil
}

// Navigate loads url in the context and waits for the load to complete.
func (c *Client) Navigate(ctx context.Context, context, url string) error {
	_, err := c.Call(ctx, "browsingContext.navigate", map[string]any{"context": context, "url": url, "wait": "complete"})
	return err
}

// CloseTab closes a browsing context without running beforeunload prompts.
func (c *Client) CloseTab(ctx context.Context, context string) error {
	_, err := c.Call(ctx, "browsingContext.close", map[string]any{"context": context, "promptUnload": false})
	return err
}

// Activate brings a tab to the front (the other tabs go to the background).
func (c *Client) Activate(ctx context.Context, context string) error {
	_, err := c.Call(ctx, "browsingContext.activate", map[string]any{"context": context})
	return err
}

// RemoteValue is a serialized JavaScript value (only primitives are
// decoded here: evaluate JSON.stringify(...) for anything richer).
type RemoteValue struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// Evaluate runs expr in the context, awaits a promise result and returns
// the value. A JavaScript exception is an error with its message.
func (c *Client) Evaluate(ctx context.Context, context, expr string) (RemoteValue, error) {
	return c.script(ctx, "script.evaluate", map[string]any{
		"expression": expr, "target": map[string]any{"context": context},
		"awaitPromise": true, "resultOwnership": "none",
	})
}

// CallFunction calls the function declaration fn with JSON-able primitive
// arguments (strings, numbers, booleans) in the context.
func (c *Client) CallFunction(ctx context.Context, context, fn string, args ...any) (RemoteValue, error) {
	var local []map[string]any
	for _, a := range args {
		switch v := a.(type) {
		case string:
			local = append(local, map[string]any{"type": "string", "value": v})
		case bool:
			local = append(local, map[string]any{"type": "boolean", "value": v})
		case int, int64, float64:
			local = append(local, map[string]any{"type": "number", "value": v})
		default:
			return RemoteValue{}, fmt.Errorf("script.callFunction: argument %v of type %T is not a primitive", a, a)
		}
	}
	return c.script(ctx, "script.callFunction", map[string]any{
		"functionDeclaration": fn, "arguments": local, "target": map[string]any{"context": context},
		"awaitPromise": true, "resultOwnership": "none",
	})
}

func (c *Client) script(ctx context.Context, method string, params map[string]any) (RemoteValue, error) {
	res, err := c.Call(ctx, method, params)
	if err != nil {
		return RemoteValue{}, err
	}
	var r struct {
		Type             string      `json:"type"`
		Result           RemoteValue `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return RemoteValue{}, fmt.Errorf("%s result %s: %w", method, res, err)
	}
	if r.Type == "exception" {
		return RemoteValue{}, fmt.Errorf("%s: JavaScript exception: %s", method, r.ExceptionDetails.Text)
	}
	return r.Result, nil
}

// End ends the session; Firefox closes itself then.
func (c *Client) End(ctx context.Context) error {
	_, err := c.Call(ctx, "session.end", nil)
	return err
}
