// Node 20 lacks Promise.withResolvers, which a dependency of js-ipfs 0.66 (it-queue) calls.
if (typeof Promise.withResolvers !== 'function') Promise.withResolvers = function () { let resolve, reject; const promise = new this((a, b) => { resolve = a; reject = b }); return { promise, resolve, reject } }
