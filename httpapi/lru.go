package httpapi

import (
	"container/list"
	"sync"
)

// lru is a byte-bounded least-recently-used cache of encoded thumbnails.
type lru struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	order    *list.List // front: most recently used
	items    map[string]*list.Element
}

type lruEntry struct {
	key  string
	data []byte
}

func newLRU(maxBytes int64) *lru {
	return &lru{maxBytes: maxBytes, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).data, true
}

// add stores data under key, evicting the least recently used entries
// beyond the bound; data bigger than the whole bound is not kept.
func (c *lru) add(key string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(len(data)) > c.maxBytes {
		return
	}
	if el, ok := c.items[key]; ok {
		c.bytes -= int64(len(el.Value.(*lruEntry).data))
		el.Value.(*lruEntry).data = data
		c.bytes += int64(len(data))
		c.order.MoveToFront(el)
	} else {
		c.items[key] = c.order.PushFront(&lruEntry{key: key, data: data})
		c.bytes += int64(len(data))
	}
	for c.bytes > c.maxBytes {
		el := c.order.Back()
		e := el.Value.(*lruEntry)
		c.order.Remove(el)
		delete(c.items, e.key)
		c.bytes -= int64(len(e.data))
	}
}

// stats reports the entries and bytes held.
func (c *lru) stats() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.bytes
}
