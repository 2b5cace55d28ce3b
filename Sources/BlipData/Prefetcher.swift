import Glibc

/// Produces items `first..<count` in order on its own thread, at most `depth` ahead of the
/// consumer, so image decoding overlaps compute. Knows nothing about images.
///
/// Cancellation (explicit or on deinit) wakes both sides and joins the thread: `produce` is
/// asked between units of work through its `isCancelled` argument, so a cancel waits at most
/// for one unit (one image). `produce` must not call back into the prefetcher.
final class Prefetcher<Item> {
    private let shared: Shared
    private var thread: pthread_t?

    init(range: Range<Int>, depth: Int, produce: @escaping (_ index: Int, _ isCancelled: () -> Bool) -> Item) {
        shared = Shared(range: range, depth: max(1, depth), produce: produce)
        // The thread owns a reference to the shared state only, never to `self`, so dropping
        // the prefetcher runs deinit, which cancels and joins.
        if let tid = startThread({ [shared] in shared.run() }) {
            thread = tid
        } else {
            shared.synchronous = true  // no thread (resource limits): produce on the caller's thread
        }
    }

    deinit { cancel() }

    /// The next item in order; blocks until it is ready. nil after the last or once cancelled.
    func next() -> Item? {
        if shared.synchronous { return shared.produceInline() }
        return shared.take()
    }

    /// Stops the producer and waits for its thread to end. Idempotent.
    func cancel() {
        shared.cancel()
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
    }

    /// Queue, flags and the condition variable both threads use.
    private final class Shared {
        let range: Range<Int>
        let depth: Int
        let produce: (Int, () -> Bool) -> Item
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private var ready: [Item] = []  // in order; at most `depth`
        private var nextIndex: Int       // next index the producer makes (synchronous mode: the caller)
        private var finished = false
        private var cancelled = false
        var synchronous = false

        init(range: Range<Int>, depth: Int, produce: @escaping (Int, () -> Bool) -> Item) {
            self.range = range
            self.depth = depth
            self.produce = produce
            nextIndex = range.lowerBound
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(changed, nil)
        }

        deinit {
            pthread_cond_destroy(changed)
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
            changed.deallocate()
        }

        private func locked<R>(_ body: () -> R) -> R {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return body()
        }

        var isCancelled: Bool { locked { cancelled } }

        /// The producer thread's loop.
        func run() {
            while true {
                let index: Int? = locked {
                    while ready.count >= depth && !cancelled { pthread_cond_wait(changed, mutex) }
                    guard !cancelled, nextIndex < range.upperBound else { return nil }
                    defer { nextIndex += 1 }
                    return nextIndex
                }
                guard let index else { break }
                let item = produce(index) { [unowned self] in self.isCancelled }
                locked {
                    ready.append(item)
                    pthread_cond_broadcast(changed)
                }
            }
            locked {
                finished = true
                pthread_cond_broadcast(changed)
            }
        }

        func take() -> Item? {
            locked {
                while ready.isEmpty && !finished && !cancelled { pthread_cond_wait(changed, mutex) }
                guard !cancelled, !ready.isEmpty else { return nil }
                let item = ready.removeFirst()
                pthread_cond_broadcast(changed)  // a slot is free
                return item
            }
        }

        func produceInline() -> Item? {
            guard !cancelled, nextIndex < range.upperBound else { return nil }
            defer { nextIndex += 1 }
            return produce(nextIndex) { [unowned self] in self.cancelled }
        }

        func cancel() {
            locked {
                cancelled = true
                ready.removeAll()
                pthread_cond_broadcast(changed)
            }
        }
    }
}

/// Starts a joinable thread running `run`; nil when the system refuses one. (Not a member of
/// the generic class: a C function pointer cannot capture generic context.)
private func startThread(_ run: @escaping () -> Void) -> pthread_t? {
    final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
    let body = Unmanaged.passRetained(Body(run)).toOpaque()
    var tid = pthread_t()
    let status = pthread_create(&tid, nil, { arg in
        guard let arg else { return nil }
        Unmanaged<Body>.fromOpaque(arg).takeRetainedValue().run()
        return nil
    }, body)
    guard status == 0 else {
        Unmanaged<Body>.fromOpaque(body).release()
        return nil
    }
    return tid
}
