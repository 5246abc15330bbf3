/// The refiners a command can run on the network's flow, by name (`--refinement`).
public enum RefinementMethod: String, CaseIterable, Sendable {
    /// OpenCV's DIS started from the network's flow, searched down to full resolution (`SeededDISSearch`, with
    /// `SeededDISSearch.Configuration.standard`'s parameters).
    case search
    /// The same search stopping at half resolution, as DIS's medium preset does: about a fifth of the search's
    /// time, less precise (still ahead of DIS alone).
    case fastSearch = "fast-search"
    /// The coarse-to-fine variational refinement from 1/16 size (`CoarseToFineRefinement`).
    case variational

    /// What `flow`, `eval flow` and `preprocess --flow` run unless told otherwise.
    public static let standard = RefinementMethod.search

    /// A refiner of this kind using `threads` threads.
    public func refiner(threads: Int) -> any FlowRefiner {
        switch self {
        case .search, .fastSearch:
            SeededDISSearch.setThreads(threads)
            return SeededDISSearch(searchConfiguration!)
        case .variational:
            return CoarseToFineRefinement(refinement: VariationalRefinement(threads: threads))
        }
    }

    /// The DIS parameters of the two searches (nil for the variational refinement): what `--search-options`
    /// changes.
    public var searchConfiguration: SeededDISSearch.Configuration? {
        switch self {
        case .search: .standard
        case .fastSearch: .medium
        case .variational: nil
        }
    }

    /// A refiner of this kind using `threads` threads, with the search's parameters replaced by `search` (which
    /// must be nil for `variational`).
    public func refiner(threads: Int, search: SeededDISSearch.Configuration?) -> any FlowRefiner {
        guard let search else { return refiner(threads: threads) }
        precondition(searchConfiguration != nil, "\(rawValue) refinement has no search parameters")
        SeededDISSearch.setThreads(threads)
        return SeededDISSearch(search)
    }
}
