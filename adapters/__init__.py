"""viewrank.adapters"""
