fn main() {
    println!("rttpd");
}
