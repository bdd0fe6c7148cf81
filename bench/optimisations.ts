// The optimisations made with this suite, each with the effect measured when it was made (same
// machine, before and after side by side), appended to BENCHMARKS.md by bench/run.ts.
export const OPTIMISATIONS = `## Optimisations and what they did

Each was found with a profile or a memory trace and measured before and after on this machine
(2 shared CPUs: figures from one development run, the sections above re-measure the present).

1. **A new commit re-parses only the files it changed** (src/desired/parse-worker.ts). The parse
   worker keeps, per plain source, each file's documents with the SHA-256 of its bytes; an
   unchanged file is read and hashed, not parsed. A test counts the files parsed
   (test/desired/incremental-parse.test.ts). Effect: a one-file commit to 10,000 manifests
   reached decisions in 1.1 s against 7.1 s for a commit that changes every file (the
   "Git" section measures both in every run). What was left of the 1.1 s was mostly
   \`git worktree add\` writing 10,000 files for the new commit: see 6.
2. **\`driftgate\` loads only the subcommand it runs** (src/cli/run.ts). \`serve\` pulls in express,
   the Kubernetes client, prom-client and TLS. Effect: \`driftgate audit --help\` 109 → 85 MB
   RSS; \`driftgate audit\` on a 100 MB log 134 → 90 MB peak RSS.
3. **\`driftgate audit\` stops the young generation growing at 16 MB** (src/audit/review/memory.ts).
   Why memory was not constant: with \`--trace-gc\` and \`v8.getHeapSpaceStatistics()\` sampled
   during a 1 GB run, the heap in use after each scavenge stayed at about 20 MB and old space at
   10 to 14 MB, while new space doubled 16 → 32 → 64 MB as the run went on. V8 grows the young
   generation whenever the bytes that survived since it last grew exceed its size, which a long
   enough stream always reaches. Effect on the 1 GB log: 137 → 92 MB peak RSS, 16.0 s before and
   after; with both changes, a tenth of the log and all of it peak within a few MB of each other.
4. **The snapshot index works out each kind's plural once** (src/policy/snapshot-index.ts). The
   index of a new snapshot was built on the event loop by the first decision after the swap (now
   before the swap, in slices). Effect, median of five: 13 → 7 ms for 10,000 objects, 114 → 45 ms for 100,000.

5. **The benchmarks measure what ships** (bench/compile.ts, bench/compiled.ts). Under tsx every
   closure is wrapped in a \`__name()\` call each time it is created: 12% of the denial's time in
   \`decide\` went there (the denial message's JSON formatter creates two closures per value).
   \`decide\` and the HTTP and Git servers now run the sources as \`npm run build\` compiles them;
   the decision section keeps one row under tsx for comparison. Effect on the denial: 30 to 45 µs
   compiled against 45 to 71 µs under tsx in the run that found it; in later runs on the busier
   machine the two overlap (35 to 55 µs), so the load of the moment matters more than tsx.

6. **A new commit reuses an idle checkout** (src/desired/git-repository.ts). Instead of
   \`git worktree add\` of the whole tree, a checkout no render is reading is moved to the new
   commit's place and switched with \`git checkout --force\` and \`git clean\`, which rewrite only
   the files that differ. On this disk \`git worktree add\` of 10,000 small files took 0.5 to
   3.5 s depending on the moment, the move and switch 0.1 to 0.25 s. Effect on the "Git"
   section, one run each side by side: a one-file commit 746 ms before, 657 and 594 ms after,
   in runs where startup (a full checkout) took 2.1 s before and 3.9 and 6.4 s after: the
   one-file commit no longer depends on how fast the disk creates 10,000 files.
   test/desired/git-repository.test.ts proves the reused checkout holds exactly the new commit,
   and that a checkout being read is never taken.
7. **The drift walk carries its position in the schema as a tree node** (src/drift/schema.ts,
   src/drift/diff.ts). It spelled a path string (\`spec.template.spec.containers[].env\`) for
   every field it visited, to look up associative lists; it now steps through a tree of the
   kind's associative lists and leaves it as soon as no list lies below. Emptiness checks no
   longer allocate key arrays, and JSON pointer tokens without \`~\` or \`/\` are not copied.
   Effect on \`decide\` for the denied Deployment UPDATE, compiled, 100,000 calls after 20,000
   to warm up, three runs each: 21.6, 21.6, 22.0 µs before; 17.3, 16.8, 17.2 µs after (-21%).

8. **/mutate compares a write only where its drift could be recorded** (src/policy/decide.ts,
   \`recordingOnly\`). The mutating webhook records drift only when it is allowed (warn mode, an
   authorised break-glass); in enforce mode without a break-glass it now stops before the drift
   walk and the denial message. Effect on the "HTTP" section, the denied write through /mutate:
   CPU per request 1.41× the no-op server's before (243 against 173 µs), 1.13× after (190
   against 169 µs); throughput 74% → 90% of the no-op server's.

9. **Reviews are served off node:http, without express** (src/admission/review-route.ts). A
   profile of the no-op express server showed its router, body parser and response helpers, and
   beside it node:https alone answered the same no-op review about a third faster (7,200 to
   8,400 against 5,200 to 6,200 reviews/s, three alternating rounds of 5 s each). /validate and
   /mutate now read the body, check it and write the answer themselves; probes, metrics and Git
   push notifications still go through express. Effect on the "HTTP" section, one run before
   and one after: the denied write 60% → 73% of the express no-op server's throughput (CPU per
   request 281 → 251 µs, against 169 and 179 µs for the no-op server), the allowed write 86% →
   102%, /mutate 90% → 110%. The section now also measures the node:https no-op server, the
   stricter baseline since.
10. **List elements are identified without building strings, and paired by a scan**
    (src/drift/schema.ts, src/drift/diff.ts, src/drift/quantity.ts). Most associative lists
    (containers, env, volumes, volumeMounts) are keyed by one field: the key's own value is now
    the element's identity, where \`s:web\` was built for every element on both sides. Lists of
    up to 32 elements are paired by a scan rather than through a Map; a list element's readable
    spelling is worked out only when a drift below it is reported; resource quantities are
    parsed once (bounded cache); a kind's schema tree is found without spelling
    \`group/kind\`. Effect, compiled, median of seven runs of 50,000 calls, the commit before and
    after side by side, twice: the diff of the captured Deployment 12.3 → 7.8 µs, \`decide\` on
    the denial 17.6 → 12.2 µs; inside the server under load (timed around the call), \`decide\`
    went from a mean of 46 to 52 µs to one of 32 µs (median 30 µs). The denied write over HTTP:
    73% → 79% of the express no-op server's throughput.

11. **A commit renders again only the sources whose files it changes**
    (src/desired/render-inputs.ts). After a render, driftgate notes what it read: a plain
    source's path; a kustomization's path and every directory it reaches through
    \`resources\`, \`components\`, \`bases\` or a path that steps up (\`../\`); a Helm chart,
    the charts it depends on through \`file://\` and its value files. The next commit is
    compared with the rendered one (\`git diff --name-only\`, once per repository for all its
    sources); when no changed file is among those, the render stands and is served under the new
    commit, with no checkout and no parse. Commands, whose inputs only running them tells,
    kustomizations with remote bases or \`helmCharts\`, which move without a commit here, and
    sources with a symbolic link among their files, which may lead anywhere in the repository,
    are rendered on every commit, as before. Effect in the "Git" section, one run: a commit
    outside the path of the 10,000-manifest source reached decisions in 118 ms, against 583 ms
    for a one-file commit inside it. In a monorepo with one source per application, a commit to
    one application now renders that one alone (test/desired/render-inputs.test.ts).

12. **The drift walk allocates a third less** (src/drift/diff.ts, src/drift/path.ts). A step into
    a map is now the key itself and a step into an atomic list its index, instead of an object
    per step; maps are walked with \`for…in\` instead of an \`Object.keys\` array per map; a short
    list marks the elements it has paired in the bits of one number instead of a
    \`Uint8Array\`, and the desired list's identities are no longer collected into an array.
    Measured with V8's sampling heap profiler: 27.2 → 17.8 KB allocated per \`decide\` on the
    denied Deployment. Effect, both builds in one process, alternating: \`decide\` 13.3 → 11.5 µs
    (median of 15 rounds). Over HTTP, 16 alternating rounds of the two servers: no change that
    shows (median difference in server CPU per denied request +1 µs, with rounds spread ±30 µs);
    inside the server the walk's allocations were not what made \`decide\` slow (see below).

13. **The strict policy compares a declared map field by field, not whole first**
    (src/drift/diff.ts). It used to ask whether old and new were equal at every level before
    looking inside: the whole Deployment at the top, then its metadata, each time down to
    \`managedFields\` and the other fields never compared, which every write changes. Now a map
    that Git declares is walked field by field, and only what is not a declared map is compared
    whole; and that comparison pairs the fields of two maps without building a \`Set\` of their
    keys. Effect, both builds in one process, alternating: \`diffWrite\` with \`fieldPolicy:
    strict\` on the captured \`kubectl set image\` 59.3 → 23.7 µs for the first change and
    57.0 → 16.7 µs for both (medians of 11 rounds), the same drift reported.
14. **Ignore-rule patterns are compiled once** (src/drift/ignore.ts). A rule whose group or kind
    holds a \`*\` (Argo CD's \`group: "*"\`, \`kind: "*"\` with \`managedFieldsManagers\` is a common
    one) built a new \`RegExp\` for every object on every request; a bare \`*\` now matches without
    one, and other patterns are compiled on first use. Effect on \`decide\` for the denied
    Deployment with three such rules in the config, in a loop: 13.8 → 11.2 µs (10.6 µs without
    them). Tests match and miss kinds and groups through each kind of pattern, twice.
15. **The decision line is serialised by one \`JSON.stringify\`** (src/audit/log.ts). pino
    builds a line field by field in JavaScript; the decision line has 24 fields and is written
    for every review. \`driftgate serve\` now writes it through pino's own destination with the
    bytes pino would write (a test compares the two). Timed around the call inside the server
    under load: 10 to 14 µs through pino, 6.7 to 7.1 µs this way (medians of 8 rounds of 20,000
    calls). Over HTTP, 12 alternating rounds against the server as it was: throughput ratio
    1.024, server CPU per denied request 1.4 µs less (rounds spread ±15 µs), within the noise.
    The same change made the benchmark log as \`serve\` does: it used to write synchronously,
    while \`serve\` writes through pino's asynchronous destination (written out on exit; tests
    end the process right after 5,000 lines, and stop a loaded server with SIGTERM, and find
    every line).
16. **The rollout-restart rule applies only where there is a stamp** (src/policy/decide.ts).
    The built-in rule that ignores \`kubectl rollout restart\`'s annotation was added for every
    write of a workload, which sent each one through the ignore-rule machinery (rule list,
    pointer checks, a copy of the object list) to remove nothing. It is now added only when
    Git's manifest, the object or the old object carries the stamp; tests cover a stamp in each
    of the three. Effect over HTTP, 12 alternating rounds: server CPU per denied request 8.1 µs
    less (paired median; 10 of 12 rounds lower), throughput ratio 1.042; turning the built-ins
    off altogether had measured 5 µs and 1.027 in an earlier run. In a loop under tsx, \`decide\`
    on the denial: 16.5 → 15.3 µs.
17. **The managed fields are parsed when first touched** (src/admission/review-body.ts). The
    profile of the denied write put \`JSON.parse\` of the body first: 84 µs of the server's 203
    µs per request. Half of the captured review's 12.4 KB, and half of its parse time in a loop
    (27 of 54 µs), is the \`metadata.managedFields\` of object and oldObject, which a decision
    reads only for an ignore rule naming managers. The two lists are now cut out of the text
    before it is parsed (one pass over their bytes, minding strings and escapes), and each
    comes back as a list that parses its text on first touch. Anything unusual (a custom
    resource's own \`managedFields\` field, a key written with spaces, a body that is not JSON)
    is parsed whole, as before. So is a review whose lists are less than an eighth of it:
    cutting costs a copy of the body and a search through it, which on a 2 MB ConfigMap review
    made the parse 1.2–1.5 → 1.9–2.1 ms before this rule and costs nothing measurable after it
    (1.2 ms both). A first version kept each list's text in a \`WeakMap\` keyed by the list:
    under load every scavenge then copied 5 MB of survivors instead of 0.5 to 0.6 MB and paused
    1.7 instead of 1.1 ms (\`--trace-gc-nvp\`), V8's scavenger keeping a young key's entry
    alive into the next one. Each list's handler now holds its own text. Measured again with
    it, 8 rounds: 12.0 µs less CPU per denied request, throughput ratio 1.063. Tests: every captured review parses to what \`JSON.parse\` gives,
    with both lists unparsed; each kind of first touch behaves as the parsed list; 400 bodies
    with random bytes changed parse or fail as \`JSON.parse\` does; an ignore rule naming
    \`kubectl set image\`'s manager allows the captured write over HTTPS. Effect on the parse in a
    loop: 54 → 44 µs. Over HTTP, against the server as it was, in alternating rounds: server
    CPU per denied request 10.3 and 11.8 µs less in two runs (paired medians; 14 of 14 and 9
    of 12 rounds lower), throughput ratio 1.065 and 1.103; \`/mutate\`, 8 rounds: 3.4 µs less,
    1.049.

18. **\`driftgate serve\` loads the Kubernetes client only when it watches a cluster**
    (src/main.ts, src/cluster/kubeconfig-present.ts). Measured first: \`driftgate serve\` with
    the bundled example held 157 to 161 MB (VmRSS, three runs), with a 64 MB young generation
    after startup. A trace of module resolution (\`module.registerHooks\`, each package's first
    importer) showed \`@kubernetes/client-node\` loaded through the cluster watch although the
    example watches no cluster; imported alone, it takes an empty Node process from 41 to 127
    MB. serve now imports the cluster watch, discovery, Events, the background scan and the
    kubeconfig reader only when there are credentials (checking for them no longer needs the
    client), and node-forge only to make a development certificate. Effect: the example 157–161
    → 99–101 MB (three runs each, the same hour). The floors in "Memory and readiness" put the
    client at 60 to 65 MB.
19. **serve's young generation stops at 16 MB, and the parse worker collects its garbage after
    each task** (src/cli/young-generation.ts, src/cli/serve.ts, src/desired/parse-worker.ts).
    V8 grows the young generation whenever survivors pile up and never shrinks it: with
    10,000 objects and no load serve's new space had reached 32 MB (16 MB resident), and a
    larger one also means longer scavenges (see the stall below). serve now sets
    \`--semi-space-growth-factor=1\` once new space reaches 16 MB (looked at once a second), as
    \`driftgate audit\` does. An idle worker isolate is not collected either: after a render of
    100,000 files the idle worker still held 167 MB of old space (\`getHeapSpaceStatistics()\`
    in the worker, a render that failed on the file limit, so all of it garbage); it now runs a
    full collection after every task, in its own thread. The worker of a ready server with
    100,000 objects holds 57 MB of heap in use, 76 MB resident: its parse cache, a second copy of
    the documents ("Where the memory goes"; see below). Tests: the cap is set once
    the young generation reaches the limit, never before, and stops being looked for.
20. **A new snapshot is built, and checked against the deletion guard, a slice at a time**
    (src/desired/snapshot.ts, src/desired/git-provider.ts). A CPU profile of a one-file commit
    to 20,000 objects (\`--cpu-prof\`, no load) had one 432 ms task on the event loop: the
    deletion guard building two sets of 20,000 keys, \`buildSnapshot\`, and the collections they
    caused. The guard's keys of the new render are now gathered as its chunks arrive, the
    served render is checked 2,000 documents per turn of the event loop, and the snapshot is
    built 1,000 documents per turn (\`buildSnapshotInSlices\`); it is still built aside and
    swapped in with one assignment, and when builds overlap only the one begun last is swapped
    in. Tests: the sliced build equals \`buildSnapshot\` for slices of 1 to 100 documents, with
    a conflict, a CRD and a kind of unknown scope, and the event loop turns between slices.
    Effect at 100,000 documents, both ways in one process (bench/snapshot-slices.ts, five
    rounds): in one go, \`buildSnapshot\` took 142 to 580 ms and the guard 242 to 472 ms, each
    a single pause of the event loop; in slices, the longest event-loop delay while the whole
    was built was 29 to 72 ms (the load average was 6 to 10 on the two CPUs; collections of the
    growing heap fall inside some slices).
21. **The Git benchmark's stall is driftgate's** (bench/refresh.ts). Its longest event-loop stall
    while 10,000 objects were rendered again included the benchmark's own synchronous
    \`git commit\` of 10,000 changed files and \`git rev-parse\`, run in the server's process
    (profiles of it and of the memory benchmark's server showed 190 to 290 ms in
    \`execFileSync\` of git). The measurement now starts once git has answered.
22. **A commit to a plain source reads, and sends, only the files it changed**
    (src/desired/parse-worker.ts, src/desired/render.ts, src/desired/git-provider.ts). CPU
    profiles (\`--cpu-prof\`) of two one-file commits to 100,000 objects in 20,001 files, no
    review load, per commit: the parse worker spent 590 ms reading and hashing every file, 845
    ms handing all 100,000 documents to the main thread (\`postMessage\` in chunks of 100), 870
    ms writing the persisted snapshot (670 of them in one \`writeSync\` per document) and 400 ms
    collecting garbage; the main thread 110 ms taking the documents in, 250 ms building the
    snapshot, 245 ms in the deletion guard and 710 ms collecting garbage. Now, when the served
    render came from the worker's last parse of the source (the worker records the source config
    and commit with its cache) and Git names the files changed since (\`git diff --name-only\`),
    the worker reads only those files and files new to it, and sends only their documents, with
    the list of manifest files in order; the main thread takes every other file's documents from
    the served render, in the same order, so the result equals a full render's, and the deletion
    guard sees all of it. The persisted snapshot is still written whole, by the worker, from its
    cache. A restored render, a restarted worker, a changed config, symbolic links among the
    source's files, a renderer (kustomize, Helm, a command, substitution), or a diff Git cannot
    give: every file is read and sent, as before. Tests: a delta applied equals a full render
    after a file is added, edited, deleted, renamed, given more or fewer documents and emptied,
    and after a commit whose YAML broke; only the changed files' documents cross (1 + 3 + 1 for
    such a commit through the provider, whose log line counts them); a worker whose cache is not
    the delta's base sends everything; the provider's snapshot after a delta equals a fresh full
    render's and, restarted, the persisted one. Effect, both versions side by side in one run
    (bench/one-file-commit.ts: a server each, one after the other, five one-file commits each,
    no review load), push to decision: 2,636 to 3,217 ms, median 2,889, before; 1,771 to 1,959
    ms, median 1,879, after (0.65 times). A first version that also wrote the persisted snapshot
    500 documents a write measured 2,277 to 2,973 ms (median 2,317) against 4,364 to 4,729
    (median 4,484) for the version before, in an earlier and more loaded run; idle with 10,000
    objects it measured 149 to 158 MB against 136 to 142 MB before, and batched writes were
    taken out. One document a write, as now, measured 148 to 151 MB in the same comparison,
    though a server of the same build varied by 10 to 20 MB from one run to the next: whether
    the change costs memory at all is not settled by these runs. bench/memory.ts after it, whose
    one-file commit line in "Memory and readiness" is from that run: decided in 2,812 ms under
    review load (8,027 ms in the run before). The same run put the bundled example at 107 MB and
    10,000 objects at 150 MB idle, 169 MB under load (99, 132 and 135 MB in the run before);
    those lines are left as they were until a side-by-side run separates this change from the
    machine's noise. Still short of 1 s: see "Investigated".
23. **serve reaches the API server without the Kubernetes client** (src/cluster/connection.ts,
    src/cluster/watch.ts, src/cluster/events.ts). After 18, every replica that watches its
    cluster (all of them, in a cluster) still loaded \`@kubernetes/client-node\` for the
    kubeconfig, the list-and-watch and the Event writes. The service account and a kubeconfig's
    token, token file, client certificate and CA are now read by driftgate itself, the watch is
    its own list-then-watch (bookmarks, relist after 410, backoff), and Events are written with
    one POST or PATCH each; exec plugins, auth providers and the rest still load the client, only
    then. A test runs \`driftgate serve\` against the loopback API server with a hook that reports
    every module of the client resolved: none with a token, a token file or a service account.
    Effect, the example with a cluster to watch, both versions in one session: 174 to 179 MB
    before, 110 MB after (106 to 108 MB without a cluster); 10,000 objects watching a cluster,
    idle 195 to 210 → 149 to 153 MB, peak under review load 202 to 212 → 171 to 176 MB.
24. **serve gives back the memory starting up left behind** (src/main.ts, src/cli/serve.ts,
    src/desired/parse-worker.ts). With the bundled example the young generation had grown to
    16 MB, 11.8 MB of it resident, with 4.6 MB in use: V8 does not shrink it on its own. serve
    now runs one full collection, which also shrinks the young generation, once everything has
    started and before it listens (two pauses of 160 and 203 ms at 100,000 objects, before any
    review), and the parse worker's collection after each task also compacts (its heap after
    20,000 documents: 40.5 MB held for 15.1 MB in use before, 12.6 MB for 10.5 MB after).
    Effect (bench/memory.ts 20000, two runs after, one before): the example 107 → 93 and 93
    MB; 10,000 objects idle 148 → 119 and 120 MB, under review load 157 → 139 and 139 MB.
    Tried and not kept: ending the idle parse worker (10,000 objects idle 140 MB, but a one-file
    commit under load 3,670 against 1,366 ms: its parse cache goes with it); a 2 MB young
    generation for the worker, and 8 against 16 MB for serve (no difference beyond the noise;
    but see 27);
    \`zod/mini\` (6.4 MB RSS against 6.9 for zod: it loads the same core).
25. **A one-file commit rewrites, rebuilds and checks only what it changed**
    (src/desired/parse-worker.ts, src/desired/snapshot.ts, src/desired/git-provider.ts,
    src/policy/snapshot-index.ts). After 22 the persisted snapshot was still written one
    \`writeSync\` per document (1.27 s of worker time per commit in a profile), and the snapshot,
    the deletion guard's key counts and the policy's index were built from every document. Now
    the unchanged files' bytes are copied from the persisted snapshot in 1 MB writes (only
    when that file is still the one this worker wrote: same inode, size and time; otherwise it
    is written whole); a document the commit left unchanged keeps its snapshot entry; the
    deletion guard counts only what the changed and removed files add and take away; slices last
    about 8 ms instead of 1,000 documents; and the index is built, in slices, before the new
    snapshot is served instead of by the first decision on it. Tests: the persisted file is byte
    for byte a full write's after edits, additions, deletions, renames and moves; the snapshot
    equals a build from scratch in eight cases (duplicates appearing, conflicts going away, a
    CRD changing a kind's scope); the sliced index equals the one built in one go. Effect at
    100,000 objects, five to a file (bench/one-file-commit.ts, both builds in one run, medians):
    2,699 → 1,434 ms and 2,053 → 1,447 ms without load, 3,348 → 1,430 ms under review load;
    the longest stall 80 → 65, 69 → 60 and 98 → 60 ms. What is left is mostly git (fetch about
    220 ms, moving and checking out the worktree about 250 ms, \`ls-tree\` and \`diff\` about
    100 ms) and the worker's walk of the 20,000 files (100 to 200 ms).
    Tried and not kept: running git from a long-lived helper process, started while driftgate is
    small. Each git command held the event loop for about 9 ms spawned from driftgate at 130 MB
    and at 618 MB alike, 0.1 ms through the helper; the helper itself is a Node process of 49 MB
    resident (8 MB of it its own, the rest the node binary shared with driftgate), in the same
    pod. Not worth it for a few 9 ms pauses per commit.
26. **A denial whose snapshot is nearly stale fetches ahead without waiting**
    (src/desired/git-provider.ts). Before a denial the webhook refreshes a snapshot older than
    5 s from Git and waits for it, at most 1 s. Under a stream of denials that meant one fetch
    every 5 s with every denial in the meantime waiting for it. A denial whose snapshot is past
    3 s now starts the fetch and does not wait (one fetch every 3 s at most); a snapshot older
    than 5 s is still waited for. A test proves both with a clock of its own. Not measured side
    by side; the HTTP section above is this tree's.
27. **serve's young generation stops at 2 MB, and may grow back to it after the collection
    before serving** (src/cli/young-generation.ts). The cap of 19 is set by a look once a
    second; where starting up reached it, the collection of 24 then shrank the young generation
    under the cap, and it stayed at its initial 1 MB for good (\`bench/heap.ts\`: new space of
    2 MB). Undone, so that it may grow back to the limit, and measured (\`tenThousand\` of
    bench/memory.ts, the two trees taking turns, two rounds): 16 MB grown back peaked at 210 and
    223 MB under review load against 179 and 183 MB stuck at 1 MB, at 4,387 and 3,122 reviews
    a second against 4,170 and 4,464. Then the limit itself, the server restarted on its
    snapshot, taking turns, median of three: 16 MB peak 198 MB, 392 µs of CPU a review, p99
    24.9 ms; 8 MB 193 MB, 299 µs, 18.8 ms; 2 MB 152 MB, 389 µs, 20.6 ms (idle 111 to 112 MB
    each). The size moves the peak by tens of MB, while the CPU a review followed no order by
    size (the least at 8 MB, 16 and 2 MB alike), so serve's limit is now 2 MB, reached by
    growing back after the collection. "Memory and readiness" above compares it with 16 MB
    again: there 2 MB peaked 26 MB lower and took 392 against 277 µs a review, so whether the
    smaller young generation costs CPU is not settled on this machine.
28. **A commit to a plain source is read from Git's objects, not from a checkout**
    (src/desired/git-provider.ts, src/desired/git-repository.ts, src/desired/parse-worker.ts,
    src/desired/manifest-parser.ts). After 25 a one-file commit still moved a worktree, checked
    it out and cleaned it (every one of its 20,001 files looked at twice), listed the tree for
    symbolic links, and the worker walked the directory again. Now the changed paths, with their
    modes and objects, come from one \`git diff --raw\`; their contents from one \`git cat-file
    --batch\`; the worker takes its cached listing, drops and inserts the changed files where the
    walk would put them (each directory's entries sorted by name), and parses only those. A
    checkout is still made where a walk could read otherwise: a symbolic link or submodule among
    the changes, a kustomization or chart appearing, the directory itself changing, more than
    1,000 changed files, or a parse cache that is not the served render's. Tests: after
    additions, edits, deletions, renames and duplicates in names whose order differs between a
    sort of whole paths and the walk's, the snapshot equals, entry for entry and in order, a
    render of the same commit from scratch; the listing equals a walk's under kubectl's rules
    and Argo CD's (recursion, globs); a link, a kustomization, a file over the size limit and a
    removed directory are rendered or refused as from a checkout. Effect at 100,000 objects,
    five to a file (bench/one-file-commit.ts, the build before and this one in one run, median
    of five commits): 1,432 → 570 ms without load, 1,523 → 973 ms under review load. The first
    commit after a full render was the slowest (1,722 ms under load): it worked out the served
    render's documents by file and the deletion guard's counts over all 100,000 documents while
    its decision waited. Working those out in slices right after the full render took it to
    904 ms, but doubled \`bench/render.ts\`'s longest stall (61 and 72 → 146 and 163 ms): not
    kept. They are now gathered as the full render's documents arrive, where the guard's keys
    already were: the first commit 1,194 ms under load (commits two to five 756 to 946 ms), the
    render's stall 47.5 and 69.6 ms (two runs each, after the full \`npm run bench\` above, which
    measured the tree before this).
31. **Old checkouts are removed by git, all but the last one made**
    (src/desired/git-repository.ts). After 28, the first commit read from Git dropped the cold
    render's checkout: \`fs.rm\` of 20,001 files, some 40,000 file-system callbacks on the event
    loop, which a CPU profile under review load showed as three gaps in a row of 74, 188 and 132
    ms (bench/memory-server.ts with \`BENCH_STALL_LOG\` prints each event-loop gap over 30 ms on
    the profile's clock; bench/one-file-commit.ts passes \`BENCH_SERVER_NODE_ARGS\` such as
    \`--cpu-prof\` to the server). Now the last checkout made stays, for the next commit that
    needs one to turn into its own (25), and the others are removed by \`git worktree remove
    --force --force\`, in a process of its own; \`git worktree prune\` runs only when one was
    removed. Test: of three checkouts, the one in use and the last made stay, the third is
    removed and git forgets it, a directory an interrupted checkout left is removed, and the
    next checkout moves the one kept.
32. **Long loops over a render pause by time, a delta's documents are not copied into one list,
    and the deletion guard's change runs in slices** (src/desired/slices.ts,
    src/desired/render.ts, src/desired/git-provider.ts, src/desired/snapshot.ts). Profiles
    under review load showed \`applyDeltaByFile\` holding the event loop 26 to 34 ms per slice
    of 5,000 files (it pushed all 100,000 documents into a new list), the CRD pass of every
    snapshot build running over all documents before its first slice, and, in bench/refresh.ts,
    one turn of 104 ms for the guard's change of a commit that changes all 10,000 files
    (\`deletionChange\`, \`lostBy\`, \`applyChange\` over every key). Now such loops pause once
    5 ms have passed (\`Slices\`, the clock read every 128 items), the guard's three loops are
    among them, the CRD pass is part of the build's slices, and a render taken as a delta keeps
    its documents as the map of files it builds anyway (\`DocumentsOfFiles\`), which a build
    reads file by file (read one document at a time through a generator, a build of 100,000
    took about 40 ms longer). Tests: \`Slices\` pauses every so many items once its time has
    passed, and lets work queued meanwhile run; the render-from-Git and incremental-parse tests
    (snapshot equal, entry for entry and in order, to a render from scratch) fail if the files
    are put in any other order. Effect at 100,000 objects under review load
    (bench/one-file-commit.ts, the build before 31 and this one, four runs of five commits,
    taking turns): the longest stall of a commit, median of five, 63, 57, 98 and 132 → 48, 50,
    46 and 41 ms; the first commit's (the checkout removal of 31) 129, 63, 191 and 223 → 65,
    50, 91 and 72 ms; time to decision unchanged within the noise (medians 816 to 1,135 ms
    before, 777 to 1,091 ms after). bench/refresh.ts, every file changed under load: 110 ms
    (before the guard's slices, in a profile) → 39 and 62 ms.
    bench/refresh.ts now runs with the young-generation cap \`driftgate serve\` sets, as the
    memory benchmark's servers do: without it (tsx's default young generation) one scavenge
    paused it 78 ms while the 10,000 documents arrived, a pause serve does not have.
33. **The memory benchmark's servers run with the container image's environment**
    (bench/memory.ts). The Dockerfile sets \`MALLOC_ARENA_MAX=2\` for driftgate's pod, but the
    servers measured here ran without it. The 10,000-object server, cold render then review load,
    three rounds each way taking turns: idle 124, 123, 125 → 121, 120, 121 MB, peak under load
    155, 151, 158 → 145, 145, 150 MB, reviews a second 3,193 to 4,840 both ways. The servers,
    the floors and bench/heap.ts now get the \`ENV\` lines of the Dockerfile's last stage (read
    from it, so a server runs without what the image stops setting); the bundled example still
    runs as \`npm start\` runs it, without.
34. **A commit that edits objects in place derives its snapshot and index from the ones before**
    (src/desired/snapshot.ts, src/policy/snapshot-index.ts). A one-file commit at 100,000 objects
    built the snapshot over every document (130 to 205 ms without load) and indexed it again (31
    to 183 ms). When a render holds the previous render's keys in the same order, document for
    document, the new snapshot shares the previous one's map of keys and overlays the entries
    whose documents are not the same objects (a copy of 100,000 keys takes about as long as a
    build: 40 ms measured); the index of kinds, namespaces and HPA targets carries over unless an
    HPA or a CRD changed. Keys added or gone, a CRD or a key declared twice among the changes, a
    render taken whole, or more than a sixteenth of the entries overlaid since the last whole
    build: built whole, as before. Tests: after an edit, several edits in a row and each of the
    cases built whole, the snapshot equals a build from scratch, entry for entry and in order,
    and says whether it was derived; with a real repository, from the first commit after a full
    render on; the index carried over equals one worked out again, and an HPA edited is seen.
    Effect: from the render to the swap 3 to 9 ms (the log's timestamps, no load); under review
    load, the build before this change and this one taking turns, five commits each: 1,007, 785,
    768, 707 and 826 → 862, 596, 590, 476 and 539 ms (medians 785 → 590).
35. **The parse worker collects after a commit's small render once idle, not at once**
    (src/desired/parse-worker.ts). Timed inside the worker, its full collection after a one-file
    commit at 100,000 objects took 95 to 168 ms, while the main thread took in the render just
    sent; on two CPUs under review load, that is CPU the commit's decision waited for. A task
    that grew the worker's heap by less than 16 MB (used or committed) is now collected after a
    second of idleness; a larger one (a render of many files) still at once, before the main
    thread's own peak of taking it in. Tests: a large render leaves little free heap once the
    next task is done (as before); a small task's garbage is collected within seconds of it
    (fails if the idle collection is not scheduled). Effect under review load, the build before
    34 and this one, five commits each: 969, 771, 758, 727, 680 → 660, 569, 517, 481 and 498 ms
    (medians 758 → 517).
36. **A log write takes all the lines that wait, up to 256 KB** (src/audit/log.ts). With
    \`--trace-gc-nvp\` at 10,000 objects under denied-write load, each scavenge promoted about 1.0
    MB (as much as had survived the one before), against 0.03 MB with the decision lines
    switched off; a heap snapshot under load found some 260 lines waiting in pino's destination.
    Its writes were at most 16 KB (sonic-boom's default \`maxWrite\`) and one at a time, so under
    load the lines queued behind them long enough to outlive two scavenges: the old generation
    grew some 7 MB a second, emptied by major collections (20 to 23 ms each at 100,000 objects),
    and the young generation grew to 64 MB. With writes of up to 256 KB, each takes what has
    queued: 0.02 MB promoted a scavenge, the young generation stays at 28 MB. CPU per denied
    write, the build before this session and this one, three rounds of two 6-second runs each,
    taking turns on a machine whose other users came and went: 198 to 355 µs (the middle two of
    six 221 and 275) against 194 to 310 µs (213 and 233): no loss, and no gain this machine can
    show for certain.
37. **\`git diff --raw\` output is read by position** (src/desired/git-repository.ts). A commit
    that changes every one of 10,000 files gives 10,000 entries, and the diff is asked twice
    (from the served commit and from the parsed one). In a profile of the Git section's
    re-render under review load, the longest stall (75 ms) was simple-git handing over the
    output and the split of each entry into five strings, with the scavenges the kept strings
    caused (about 35 ms of it). Reading the mode, object and path by position makes the three
    strings kept: 10,000 entries in one process, two rounds each, 26.7 and 16.4 ms → 6.1 and
    5.5 ms (17.4 and 14.8 → 5.9 and 7.1 ms with a 1 MB semi-space). bench/refresh.ts once before
    and once after (its runs have spread from 36 to 65 ms): longest stall 75.6 → 44.8 ms; the
    profile no longer shows the parse, and its longest stalls are now git's own spawns (10 to 15
    ms each inside \`child_process.spawn\`).
38. **A review's managed fields stay bytes until touched** (src/admission/review-body.ts). The
    two lists cut out of the body before it is parsed were each copied into a string at once,
    though most reviews never read them: now each is a view of the body's bytes, decoded on
    first touch. Measured with V8's sampling heap profiler (every 4 KB, collected objects
    included) at 10,000 objects under the denied write, four seconds each, the build before and
    this one: 68.2 and 69.3 → 62.6 and 63.2 KB allocated a review. Under serve's cap a scavenge
    comes every 28 reviews or so (see below), so about one in twelve fewer of them.
39. **A log write takes at most 32 KB, not 256 KB** (src/audit/log.ts), undoing part of 36.
    sonic-boom appends each line to the last string waiting and measures that string's length
    in bytes each time, which flattens it: the cost of a line grows with the size of a write.
    With the service log writing into a pipe nobody reads (a container runtime that stopped
    draining), four rounds of 1,000 decision lines each: 345 to 510 µs a line at 256 KB, 16 to
    99 µs at 32 KB, on every review for as long as the output is stuck. Under the denied-write
    load, 10,000 objects, \`--trace-gc-nvp\`, two runs each: 4.4 and 4.5 KB promoted a scavenge
    at 32 KB, 2.3 and 4.2 KB at 256 KB (about 1 MB at 16 KB before 36). The log test now also
    fails if a write grows past 32 KB.
40. **The parse worker no longer holds the documents the persisted snapshot holds**
    (src/desired/parse-worker.ts). Its cache kept each file's documents beside the file's hash,
    so that a commit skips the files it leaves unchanged: a second copy of the whole render for
    as long as the worker lives (below, "a second copy of the documents"). Once the snapshot
    the parse wrote holds a file's documents, the cache keeps the hash, the count and where they
    lie in that file: an unchanged file's bytes are copied from it as before, and a render that
    must send them (a full render finding the file unchanged) reads them back from it. Where
    that file was replaced, a checkout's file is parsed again, and a commit read from Git is
    rendered from a checkout instead, found before anything is sent. bench/memory-server.ts,
    cold start, 10 s of denied writes on 16 connections, the build before and this one taking
    turns: 10,000 objects one to a file, peak RSS 152, 156 and 152 → 147, 146 and 147 MB;
    100,000 objects five to a file (one run each), ready 277 → 229 MB, peak 315 → 273 MB; a
    one-file commit at 100,000 under that load, two runs each: decided in 626 and 764 → 787
    and 806 ms, the longest stall 94 and 119 → 65 and 103 ms (the load average was high).
    Tests: a full render after a persisted one parses nothing and sends what a fresh parse
    sends; with the snapshot replaced it parses again every file that declares objects, and
    sends the same; a commit read from Git with the snapshot replaced is rendered from a
    checkout and serves what a render from scratch serves.

Investigated and left as they are:

- **Decision lines handed to pino's destination as Buffers** (sonic-boom's buffer mode), tried
  before 36 against the promotion 36 removes: nothing was promoted (0.05 MB a scavenge), but the
  server took 249 instead of 189 µs of CPU per denied write (10,000 objects, two rounds of two
  6-second runs each, taking turns; 5,300 to 5,900 → 4,000 to 4,500 requests a second). Not kept.

- **What the young-generation cap costs a review** (src/cli/young-generation.ts), now that the
  HTTP section's driftgate runs with it as serve does. With \`--trace-gc-nvp\`, 10,000 objects,
  the denied write, 16 connections, the young generation fixed from the command line at each
  size in turn (one 6-second run each): a scavenge every 14, 28, 53 and 107 reviews with 1, 2, 4
  and 8 MB semi-spaces (some 70 KB allocated a review), each pausing 0.35, 0.66, 0.75 and 0.97
  ms: 25, 23.5, 14.1 and 9.0 µs of scavenging a review. Without the cap the young generation
  grows to 64 MB and scavenging costs some 2 µs a review; side by side, five rounds each, the
  server took 216 to 241 µs of CPU a review with the cap (median 222) and 181 to 235 without
  (median 201), the no-op express server 150 to 164. The cap is kept: the peak it saves under
  load (the young-generation rows of "Memory and readiness") is what the 150 MB target at
  10,000 objects needs. Under the cap the young generation may still double once between two
  of its checks a second apart (4.2 MB seen under load, the limit being 2 MB).
- **Scavenging on the main thread alone** (\`--no-parallel-scavenge\`, which V8 reads at each
  scavenge, so serve could set it as it sets the cap). With the young generation fixed at 2 MB,
  two 6-second runs each, taking turns: each scavenge paused the main thread 0.54 and 0.55 ms
  against 0.79 and 0.82 ms with V8's helper threads (19.5 against 28.8 µs a review). But the
  server's CPU a review, five rounds each under serve's own cap, was 212 to 301 µs set this way
  and 212 to 296 µs as it is: no gain this machine can show. Not set.
- **Where the memory under review load goes** (10,000 objects, 16 connections, /proc's smaps
  and V8's heap spaces every 500 ms): from idle to the peak, +8 MB of old generation (what
  scavenges promote, until a major collection), +3 MB of young generation, +2 MB of code and
  +14 MB outside V8's heap. The no-op node:https server under the same load grows by about as
  much outside its heap (+13 MB of malloc'd memory): the TLS stack's, not driftgate's. Tried
  and not kept, each alone, two runs each beside the image's environment: \`MALLOC_ARENA_MAX=1\`
  (peaks 164 and 158 MB against 164 and 161), \`MALLOC_MMAP_THRESHOLD_=131072\` (160 and 166
  against 157 and 165), \`--single-threaded-gc\` (203 and 203 against 161 and 170).
- **Comparing against a plan compiled once per manifest.** Tried twice. Each manifest compiled
  into a plan of what to compare where (fields never compared left out, list identities,
  quantity and Secret positions decided in advance), found again by the manifest object, with
  the copies that normalisation and ignore rules make kept beside the manifest. All tests
  passed both times. Kept for every manifest, one compiled Deployment held 21 KB of heap against
  4 KB for the manifest (10,000 measured with \`--expose-gc\`): 10,000 manifests written to once
  would cost about 200 MB of the 300 MB target. Kept for the manifests compared last within a
  budget of plan nodes (about 7 MB), in the loop: the diff of the captured Deployment 7.8 → 5.4
  µs, \`decide\` on the denial 12.2 → 10.5 µs, but the first comparison of a manifest 8 → 30 µs
  (compiling it); over HTTP the denied write measured 81% of the express no-op server's
  throughput with it, against 83% without it in the run before: within this machine's noise.
  Not kept: a second layer of caches for no effect that shows end to end.
- **Why \`decide\` costs two to three times as much inside the server as in a loop** (a median
  of 30 against 12 µs after 10, timed around the call in the server under load: the fastest
  tenth still take 28 µs, so every call, not a tail). Not garbage collection (\`--trace-gc\`: scavenges take 0.7% of the time under
  load); not deoptimisation (\`--trace-deopt\`: \`decide\` and the walk are optimised once and
  stay so); not the shapes of objects cloned from the parse worker (a snapshot built through
  \`postMessage\` decides as fast in the loop); sweeping 8 MB of memory between calls in the loop
  adds only 2.5 µs. What is left is running among the TLS, HTTP and JSON code of each request
  instead of in a hot loop. Timed three ways in one server under load: the first \`decide\` on a
  request took a median of 30 µs, the same call again right after it 17 µs, and a call on a
  fresh copy of the request 15 µs. So the request object is not what is slow: the first call
  is, the one that reaches the code and the long-lived data (manifest, index, config) after the
  rest of the request has run. Allocating less (12 above) did not change it. A server that
  reused one decision instead of deciding cost the same CPU per denied write as the express
  no-op server (175 against 176 µs, 8 alternating rounds), and less in later runs (next item).
- **Where the denied write's cost above the no-op goes**, found by leaving one part out at a
  time: each variant a server of its own, in alternating rounds with the full server and the
  express no-op server (8 rounds of 5 s; medians of server CPU per denied request).
  - The full server: 210 to 228 µs; the express no-op server 168 to 177 µs; node:https alone
    121 µs.
  - Reusing one decision instead of calling \`decide\` (log line, metrics and response as
    before): 157 to 168 µs, 104 to 108% of the express no-op's throughput, in three runs. So
    \`decide\` costs 42 to 67 µs of the server's CPU per denial, against 12 µs in a loop.
  - Inside \`decide\`, serving the diff from a cache saved 24 µs; the denial message from a
    cache, nothing.
  - Skipping the refresh from Git before a denial (at most one fetch every 5 s, which the
    denials arriving meanwhile wait for): 2.5 µs less in one run (paired median, within
    noise); in another, of 10 rounds, 7.6 µs less, throughput ratio 1.061, and the p99 6.67
    against 7.50 ms (express no-op 5.26 ms). Under a steady stream of denials, those that
    arrive during a fetch make the tail; the refresh stays, so that a write matching a commit
    pushed moments ago is not denied.
  - Leaving the decision line out: 186 to 198 µs, 88 to 90% of the express no-op's throughput
    (three runs), against 209 to 229 µs with it. The call itself takes 10 to 14 µs through
    pino, 7 µs as written since 15. A synchronous write costs the same as the asynchronous one
    (209 against 211 µs), and so did writing each event-loop turn's lines in one
    \`writeSync\` (214 against 218 µs). The line stays: it is the audit trail's record of every
    decision.
  - Leaving out the metrics, or the checks of the review's shape: 213 and 212 µs against 228
    µs for the full server, whose rounds spread from 206 to 263 µs in that run.

  The parts do not add up: each costs more among the others than alone, as \`decide\` does
  (previous item). Leaving out either \`decide\` or the decision line would meet the target;
  the webhook needs both. What met it instead was a part the no-op server pays too, the
  \`JSON.parse\` of the body: parsing less of it (17 above).
- **The event-loop stall while 10,000 objects are re-rendered under load** (the "Git" section):
  it moves around the 50 ms target from run to run (29.5, 47.1 and 56.6 ms in three full runs
  on one day; 36 to 65 ms in four runs of bench/refresh.ts alone). \`--trace-gc\` shows the longest
  main-thread pauses are scavenges, up to 44 ms, once the young generation has grown under
  review load and the documents arriving from the parse worker survive into it. With the young
  generation held at 16 MB (\`--max-semi-space-size=16\`) no scavenge took more than 17.5 ms in
  two runs, yet one of them still stalled 72 ms: on two CPUs shared by the load generator, the
  parse worker, git and the server, the server's thread is not always running. Building the
  10,000-entry snapshot takes about 17 ms and indexing it 2 to 7 ms. Not changed: no run here
  separates a better default from the noise.
- **The persisted snapshot and the parse cache**: the cache holds one render's documents in the
  parse worker; the RSS of a ready server with 10,000 objects did not change measurably with it
  (261 MB with, 274 MB without, within run-to-run noise).

- **The parse worker's cache is a second copy of the documents.** "Where the memory goes"
  puts the worker at 76 MB resident with 100,000 objects (57 MB of heap in use) and 29 MB with
  10,000, beside 68 MB for the documents and snapshot on the main thread: the cache that makes a
  one-file commit parse one file (1 above) holds every file's documents again. Holding them
  once would mean caching on the main thread (the worker sending each file's hash, and a mark
  for an unchanged file instead of its documents); but the worker writes the persisted snapshot
  from the documents it holds, so for unchanged files it would have to copy their bytes from
  the previous snapshot file instead. Done since, the other way round (40): the worker keeps
  the hashes and reads the documents back from the snapshot file.
- **Ending the parse worker when idle.** With the bundled example, ending it after each task
  took serve from 101 to 96 MB (two runs each); the floors show an idle worker thread costs 15
  MB. Its parse cache goes with it, so the next commit parses every file again; not done.
- **A one-file commit decided within 1 s at 100,000 objects: not met** (20,001 files; 1.9 s
  without review load since 24, from 2.9 s side by side). A profile after 24 (three commits, no
  load, with the snapshot written 500 documents at a time) puts the rest at, per commit: in the
  worker, 280 ms serialising and writing the whole persisted snapshot (\`JSON.stringify\` of
  every document; one \`writeSync\` per document, as shipped, adds to it), 75 ms listing the
  files and 180 ms collecting garbage; on the main thread, 155 ms building the snapshot, 95 ms
  in the deletion guard over the served render, 70 ms gathering the new render's keys and 55 ms
  putting the delta together, all in slices, and 170 ms collecting garbage; and git in child
  processes (fetch, diff, \`ls-tree\`, and \`checkout --force\` then \`clean\` over 20,001
  files). Next cuts: keep each file's serialised documents in the worker's cache (the persisted
  write becomes a join; an estimated 50 MB more in the worker at 100,000 objects), or persist
  after the swap rather than before it; give the guard and the snapshot the delta too (only the
  changed files' keys to look up, and the served snapshot's entries reused).
- **The event-loop stall under review load at 100,000 objects: not shown met.** In the run of
  "Memory and readiness" the longest stall from the push to the first decision on it was 127
  ms, but the longest under the same load just before the commit, with nothing being rendered,
  was 195 ms: the load average was 8 to 10 on the two shared CPUs, and the
  server's thread was not always running. The build's own part is measured in a loop (20).
`;
