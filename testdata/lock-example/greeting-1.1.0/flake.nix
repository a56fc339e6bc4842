{
  description = "Says hello";
  outputs = { self }: { text = "hello from greeting 1.1.0"; };
}
