import COpenBLAS

/// OpenBLAS configuration shared by every GEMM in the engine.
public enum BLAS {
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
}
