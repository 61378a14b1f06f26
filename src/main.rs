fn main() -> std::process::ExitCode {
    aimgen::cli::main()
}
